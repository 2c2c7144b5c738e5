// safetensors reader and atomic writer (see safetensors.h). Tested in tests/test_checkpoint.cpp.
#include "nn/safetensors.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <vector>

#include "data/file_util.h"
#include "data/json_read.h"

namespace sp {

static_assert(std::endian::native == std::endian::little, "safetensors data is little-endian");

namespace {

constexpr uint64_t kMaxHeaderBytes = 100'000'000;  // the Python package's limit

std::string errno_text() { return std::strerror(errno); }

// Owns a file descriptor; for the writer, also the temporary path, removed unless committed.
struct File {
  int fd = -1;
  std::string tmp_path;
  ~File() {
    if (fd >= 0) ::close(fd);
    if (!tmp_path.empty()) ::unlink(tmp_path.c_str());
  }
};

void write_all(int fd, const void* data, size_t n, const std::string& path) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    SP_CHECK(w > 0, "safetensors ", path, ": write failed: ", errno_text());
    p += w;
    n -= size_t(w);
  }
}

void read_all(int fd, void* data, size_t n, uint64_t offset, const std::string& path) {
  char* p = static_cast<char*>(data);
  while (n > 0) {
    ssize_t r = ::pread(fd, p, n, off_t(offset));
    if (r < 0 && errno == EINTR) continue;
    SP_CHECK(r > 0, "safetensors ", path, ": read failed at byte ", offset, ": ",
             r == 0 ? std::string("unexpected end of file") : errno_text());
    p += r;
    n -= size_t(r);
    offset += uint64_t(r);
  }
}

// Best effort: make the rename itself durable.
void sync_directory_of(const std::string& path) {
  size_t slash = path.find_last_of('/');
  std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  int d = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (d < 0) return;
  ::fsync(d);
  ::close(d);
}

// Data order: larger element sizes first (then by name), so every tensor starts aligned to its element size.
std::vector<std::pair<std::string, Tensor>> write_order(const std::map<std::string, Tensor>& tensors) {
  std::vector<std::pair<std::string, Tensor>> v(tensors.begin(), tensors.end());
  std::stable_sort(v.begin(), v.end(), [](const auto& a, const auto& b) {
    return a.second.itemsize() > b.second.itemsize();
  });
  return v;
}

// A non-negative integer JSON value as int64, or throws naming the file and field.
int64_t json_index(const nlohmann::json& j, const std::string& path, const std::string& name, const char* field) {
  SP_CHECK(j.is_number_unsigned() && j.get<uint64_t>() <= uint64_t(std::numeric_limits<int64_t>::max()),
           "safetensors ", path, ": tensor '", name, "': ", field, " entry ", j.dump(),
           " is not a non-negative integer");
  return int64_t(j.get<uint64_t>());
}

struct Entry {
  std::string name;
  DType dtype;
  Shape shape;
  int64_t begin, end;
};

Entry parse_entry(const std::string& path, const std::string& name, const nlohmann::json& e) {
  SP_CHECK(e.is_object(), "safetensors ", path, ": tensor '", name, "' is not a JSON object");
  for (const auto& [k, v] : e.items())
    SP_CHECK(k == "dtype" || k == "shape" || k == "data_offsets", "safetensors ", path, ": tensor '", name,
             "' has unknown field '", k, "'");
  SP_CHECK(e.contains("dtype") && e.contains("shape") && e.contains("data_offsets"), "safetensors ", path,
           ": tensor '", name, "' needs dtype, shape and data_offsets");
  Entry out{name, DType::f32, {}, 0, 0};
  const auto& dt = e["dtype"];
  SP_CHECK(dt.is_string(), "safetensors ", path, ": tensor '", name, "': dtype is not a string");
  try {
    out.dtype = dtype_from_name(dt.get<std::string>());
  } catch (const Error&) {
    SP_FAIL("safetensors ", path, ": tensor '", name, "' has unknown dtype '", dt.get<std::string>(), "'");
  }
  const auto& sh = e["shape"];
  SP_CHECK(sh.is_array(), "safetensors ", path, ": tensor '", name, "': shape is not an array");
  SP_CHECK(sh.size() <= size_t(Shape::kMaxDims), "safetensors ", path, ": tensor '", name, "' has ", sh.size(),
           " dimensions (at most ", Shape::kMaxDims, " supported)");
  // Bytes the shape needs, guarding against overflow: anything above int64 range cannot fit a file anyway.
  int64_t bytes = int64_t(dtype_size(out.dtype));
  for (const auto& d : sh) {
    int64_t n = json_index(d, path, name, "shape");
    out.shape.push_back(n);
    SP_CHECK(n == 0 || bytes <= std::numeric_limits<int64_t>::max() / n, "safetensors ", path, ": tensor '", name,
             "' shape is too large");
    bytes *= n;
  }
  const auto& off = e["data_offsets"];
  SP_CHECK(off.is_array() && off.size() == 2, "safetensors ", path, ": tensor '", name,
           "': data_offsets must be [begin, end]");
  out.begin = json_index(off[0], path, name, "data_offsets");
  out.end = json_index(off[1], path, name, "data_offsets");
  SP_CHECK(out.begin <= out.end, "safetensors ", path, ": tensor '", name, "': data_offsets [", out.begin, ", ",
           out.end, "] run backwards");
  SP_CHECK(out.end - out.begin == bytes, "safetensors ", path, ": tensor '", name, "' (", dtype_name(out.dtype),
           out.shape, ") needs ", bytes, " bytes but data_offsets [", out.begin, ", ", out.end, "] span ",
           out.end - out.begin);
  return out;
}

nlohmann::json parse_header(const std::string& path, const std::string& text) {
  // nlohmann keeps the last of repeated keys silently; track the keys of each open object to reject them.
  std::vector<std::set<std::string>> open;
  std::string duplicate;
  auto cb = [&](int depth, nlohmann::json::parse_event_t ev, nlohmann::json& j) {
    using E = nlohmann::json::parse_event_t;
    // A header is {name: {dtype, shape: [...], data_offsets: [...]}}: deeper nesting is corruption, and a
    // deep tree would overflow the stack when copied.
    SP_CHECK(!((ev == E::object_start || ev == E::array_start) && depth >= 8), "safetensors ", path,
             ": header nested deeper than 8 levels");
    if (ev == E::object_start) open.emplace_back();
    if (ev == E::object_end && !open.empty()) open.pop_back();
    if (ev == E::key && !open.empty() && !open.back().insert(j.get<std::string>()).second && duplicate.empty())
      duplicate = j.get<std::string>();
    return true;
  };
  nlohmann::json h;
  try {
    h = nlohmann::json::parse(text, cb);
  } catch (const nlohmann::json::parse_error& e) {
    SP_FAIL("safetensors ", path, ": header is not valid JSON at byte ", 8 + (e.byte > 0 ? e.byte - 1 : 0), " of the file (",
            data::json_error_text(e), ")");
  } catch (const nlohmann::json::exception& e) {
    SP_FAIL("safetensors ", path, ": header is not valid JSON (", data::json_error_text(e), ")");
  }
  SP_CHECK(duplicate.empty(), "safetensors ", path, ": duplicate name '", duplicate, "' in the header");
  SP_CHECK(h.is_object(), "safetensors ", path, ": header is not a JSON object");
  return h;
}

}  // namespace

const Tensor& TensorFile::at(const std::string& name) const {
  auto it = tensors.find(name);
  SP_CHECK(it != tensors.end(), "safetensors ", path, ": no tensor named '", name, "'");
  return it->second;
}

void save_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata, Stream& s) {
  auto order = write_order(tensors);
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  int64_t offset = 0;
  for (const auto& [name, t] : order) {
    SP_CHECK(name != "__metadata__", "safetensors ", path, ": '__metadata__' is reserved, not a tensor name");
    SP_CHECK(t.defined(), "safetensors ", path, ": tensor '", name, "' is undefined");
    SP_CHECK(t.device().is_cpu() || s.device() == t.device(), "safetensors ", path, ": tensor '", name, "' is on ",
             t.device(), " but the stream is on ", s.device());
    int64_t nbytes = int64_t(t.nbytes());
    header[name] = {{"dtype", std::string(dtype_name(t.dtype()))},
                    {"shape", std::vector<int64_t>(t.shape().begin(), t.shape().end())},
                    {"data_offsets", {offset, offset + nbytes}}};
    offset += nbytes;
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const nlohmann::json::exception& e) {  // e.g. a name that is not valid UTF-8
    SP_FAIL("safetensors ", path, ": cannot encode the header: ", data::json_error_text(e));
  }
  text.append((8 - text.size() % 8) % 8, ' ');
  uint64_t len = text.size();

  File f;
  f.tmp_path = path + ".tmp." + std::to_string(::getpid());
  f.fd = ::open(f.tmp_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  SP_CHECK(f.fd >= 0, "safetensors ", path, ": cannot create ", f.tmp_path, ": ", errno_text());
  write_all(f.fd, &len, 8, path);
  write_all(f.fd, text.data(), text.size(), path);
  for (const auto& [name, t] : order) {
    if (t.numel() == 0) continue;
    Tensor h = t.device().is_cpu() ? t.contiguous() : t.to(Device::cpu(), s).contiguous();
    write_all(f.fd, h.raw_data(), h.nbytes(), path);
  }
  SP_CHECK(::fsync(f.fd) == 0, "safetensors ", path, ": fsync failed: ", errno_text());
  int fd = f.fd;
  f.fd = -1;
  SP_CHECK(::close(fd) == 0, "safetensors ", path, ": close failed: ", errno_text());
  SP_CHECK(::rename(f.tmp_path.c_str(), path.c_str()) == 0, "safetensors ", path, ": rename from ", f.tmp_path,
           " failed: ", errno_text());
  f.tmp_path.clear();  // committed
  sync_directory_of(path);
}

namespace {
// with_data false: every check of the header and of the file's length, tensors left empty (no data read).
TensorFile read_file(const std::string& path, bool with_data) {
  File f;
  f.fd = data::open_regular_file(path);  // refuses FIFOs and devices without blocking on them
  struct stat st {};
  SP_CHECK(::fstat(f.fd, &st) == 0, "safetensors ", path, ": cannot stat: ", errno_text());
  SP_CHECK(S_ISREG(st.st_mode), "safetensors ", path, ": not a regular file");
  uint64_t size = uint64_t(st.st_size);
  SP_CHECK(size >= 8, "safetensors ", path, ": file too short (", size, " bytes) to hold the header length");
  uint64_t len = 0;
  read_all(f.fd, &len, 8, 0, path);
  SP_CHECK(len <= size - 8, "safetensors ", path, ": header length ", len, " exceeds the ", size - 8,
           " bytes after the length field");
  SP_CHECK(len <= kMaxHeaderBytes, "safetensors ", path, ": header length ", len, " is implausibly large");
  std::string text(len, '\0');
  read_all(f.fd, text.data(), len, 8, path);
  nlohmann::json h = parse_header(path, text);

  TensorFile out;
  out.path = path;
  std::vector<Entry> entries;
  for (const auto& [name, e] : h.items()) {
    if (name == "__metadata__") {
      SP_CHECK(e.is_object(), "safetensors ", path, ": __metadata__ is not a JSON object");
      for (const auto& [k, v] : e.items()) {
        SP_CHECK(v.is_string(), "safetensors ", path, ": __metadata__ value of '", k, "' is not a string");
        out.metadata.emplace(k, v.get<std::string>());
      }
      continue;
    }
    entries.push_back(parse_entry(path, name, e));
  }

  // The data ranges must tile [0, data size) exactly: no gaps, no overlaps, nothing after the last one.
  uint64_t data_size = size - 8 - len;
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return a.begin != b.begin ? a.begin < b.begin : a.end < b.end; });
  int64_t cursor = 0;
  const Entry* prev = nullptr;
  for (const Entry& e : entries) {
    SP_CHECK(uint64_t(e.end) <= data_size, "safetensors ", path, ": tensor '", e.name, "' data_offsets [", e.begin,
             ", ", e.end, "] exceed the ", data_size, " data bytes");
    SP_CHECK(e.begin >= cursor, "safetensors ", path, ": tensor '", e.name, "' [", e.begin, ", ", e.end,
             ") overlaps '", prev ? prev->name : "", "' (ends at ", cursor, ")");
    SP_CHECK(e.begin == cursor, "safetensors ", path, ": gap in the data before tensor '", e.name, "' (bytes ",
             cursor, " to ", e.begin, " unused)");
    cursor = e.end;
    prev = &e;
  }
  SP_CHECK(uint64_t(cursor) == data_size, "safetensors ", path, ": ", data_size - uint64_t(cursor),
           " trailing bytes after the last tensor");

  for (const Entry& e : entries) {
    if (!with_data) {
      out.shapes.emplace(e.name, std::make_pair(e.dtype, e.shape));
      continue;
    }
    Tensor t = Tensor::empty(e.shape, e.dtype);
    if (e.end > e.begin) read_all(f.fd, t.raw_data(), size_t(e.end - e.begin), 8 + len + uint64_t(e.begin), path);
    out.tensors.emplace(e.name, std::move(t));
  }
  return out;
}
}  // namespace

TensorFile load_safetensors(const std::string& path) { return read_file(path, true); }
TensorFile read_safetensors_header(const std::string& path) { return read_file(path, false); }

}  // namespace sp
