// .npy reader/writer (see npy.h). POSIX file descriptors with pread/write loops so reads can run from
// several threads and land directly in the caller's buffer.
#include "data/npy.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <limits>

#include "data/file_util.h"

namespace sp::npy {
namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicLen = 6;
constexpr size_t kMaxHeaderLen = size_t(1) << 20;  // numpy's own limit is far smaller; guards huge allocs

std::string errno_str() { return std::strerror(errno); }

// The header as it may appear in an error message: bounded and printable.
std::string printable(const std::string& s) {
  std::string r;
  for (size_t i = 0; i < s.size() && i < 200; ++i) r += (s[i] >= 32 && s[i] < 127) ? s[i] : '?';
  if (s.size() > 200) r += "...";
  return r;
}

// A recursive-descent parser for the header dict, which is a Python literal of the form
// {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }.
class DictParser {
 public:
  DictParser(const std::string& path, const std::string& s) : path_(path), s_(s) {}

  Header parse() {
    bool have_descr = false, have_order = false, have_shape = false;
    std::string descr;
    bool fortran = false;
    Header h;
    expect('{');
    while (!peek('}')) {
      std::string key = string_literal();
      expect(':');
      if (key == "descr") {
        if (have_descr) fail("duplicate key 'descr'");
        have_descr = true;
        if (peek('[')) fail("structured dtypes (a list descr) are not supported");
        descr = string_literal();
      } else if (key == "fortran_order") {
        if (have_order) fail("duplicate key 'fortran_order'");
        have_order = true;
        fortran = boolean();
      } else if (key == "shape") {
        if (have_shape) fail("duplicate key 'shape'");
        have_shape = true;
        h.shape = tuple();
      } else {
        fail("unexpected key '" + key + "'");
      }
      if (!eat(',')) break;
    }
    expect('}');
    skip_ws();
    if (pos_ != s_.size()) fail("trailing characters after the dict");
    if (!have_descr || !have_order || !have_shape) fail("the dict needs the keys 'descr', 'fortran_order' and 'shape'");
    SP_CHECK(!fortran, path_, ": Fortran-order arrays are not supported (fortran_order is True); save a C-order "
             "array, e.g. np.save(path, np.ascontiguousarray(a))");
    h.dtype = dtype_of_descr(descr);
    h.numel = 1;
    for (int64_t d : h.shape) {
      SP_CHECK(d == 0 || h.numel <= std::numeric_limits<int64_t>::max() / d, path_, ": shape ",
               shape_str(h.shape), " has too many elements");
      h.numel *= d;
    }
    return h;
  }

 private:
  [[noreturn]] void fail(const std::string& what) {
    SP_FAIL(path_, ": invalid .npy header: ", what, " (at character ", pos_, " of \"", printable(s_), "\")");
  }
  void skip_ws() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) ++pos_;
  }
  bool peek(char c) {
    skip_ws();
    return pos_ < s_.size() && s_[pos_] == c;
  }
  bool eat(char c) {
    if (!peek(c)) return false;
    ++pos_;
    return true;
  }
  void expect(char c) {
    if (!eat(c)) fail(std::string("expected '") + c + "'");
  }
  std::string string_literal() {
    skip_ws();
    if (pos_ >= s_.size() || (s_[pos_] != '\'' && s_[pos_] != '"')) fail("expected a quoted string");
    char q = s_[pos_++];
    size_t start = pos_;
    while (pos_ < s_.size() && s_[pos_] != q) {
      if (s_[pos_] == '\\') fail("escape sequences are not supported in header strings");
      ++pos_;
    }
    if (pos_ >= s_.size()) fail("unterminated string");
    return s_.substr(start, pos_++ - start);
  }
  bool boolean() {
    skip_ws();
    if (s_.compare(pos_, 4, "True") == 0) {
      pos_ += 4;
      return true;
    }
    if (s_.compare(pos_, 5, "False") == 0) {
      pos_ += 5;
      return false;
    }
    fail("expected True or False");
  }
  int64_t integer() {
    skip_ws();
    if (pos_ >= s_.size() || s_[pos_] < '0' || s_[pos_] > '9') fail("expected a non-negative integer");
    int64_t v = 0;
    while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') {
      int digit = s_[pos_++] - '0';
      if (v > (std::numeric_limits<int64_t>::max() - digit) / 10) fail("dimension too large");
      v = v * 10 + digit;
    }
    return v;
  }
  // A Python tuple of ints: "()", "(3,)", "(3, 4)" or "(3, 4,)". "(3)" is an int in Python, so it is
  // rejected as numpy does.
  std::vector<int64_t> tuple() {
    expect('(');
    std::vector<int64_t> v;
    bool trailing_comma = false;
    while (!peek(')')) {
      v.push_back(integer());
      trailing_comma = eat(',');
      if (!trailing_comma) break;
    }
    expect(')');
    if (v.size() == 1 && !trailing_comma) fail("shape '(n)' is not a tuple; numpy writes '(n,)'");
    return v;
  }
  DType dtype_of_descr(const std::string& d) {
    std::string t = d;
    char order = '=';
    if (!t.empty() && (t[0] == '<' || t[0] == '>' || t[0] == '|' || t[0] == '=')) {
      order = t[0];
      t = t.substr(1);
    }
    DType dt;
    if (t == "b1" || t == "?") dt = DType::boolean;
    else if (t == "u1") dt = DType::u8;
    else if (t == "i4") dt = DType::i32;
    else if (t == "i8") dt = DType::i64;
    else if (t == "f2") dt = DType::f16;
    else if (t == "f4") dt = DType::f32;
    else if (t == "f8") dt = DType::f64;
    else
      SP_FAIL(path_, ": unsupported .npy dtype '", d, "' (supported: |b1 |u1 <i4 <i8 <f2 <f4 <f8)");
    SP_CHECK(order != '>' || dtype_size(dt) == 1, path_, ": big-endian dtype '", d,
             "' is not supported; convert with a.astype(a.dtype.newbyteorder('<'))");
    return dt;
  }

  const std::string& path_;
  const std::string& s_;
  size_t pos_ = 0;
};

void read_exact(int fd, const std::string& path, void* dst, size_t n, off_t off) {
  char* p = static_cast<char*>(dst);
  while (n > 0) {
    ssize_t r = ::pread(fd, p, n, off);
    if (r < 0 && errno == EINTR) continue;
    SP_CHECK(r >= 0, path, ": read failed: ", errno_str());
    SP_CHECK(r > 0, path, ": unexpected end of file at byte ", off);
    p += r;
    n -= size_t(r);
    off += r;
  }
}

void write_exact(int fd, const std::string& path, const void* src, size_t n) {
  const char* p = static_cast<const char*>(src);
  while (n > 0) {
    ssize_t r = ::write(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    SP_CHECK(r > 0, path, ": write failed: ", errno_str());
    p += r;
    n -= size_t(r);
  }
}

// Magic, version, length field and the padded dict. Version 1.0 (2-byte length) whenever the header
// fits, else 2.0; the total is padded with spaces to a multiple of 64 bytes, ending in '\n', as numpy does.
std::string make_header(DType dt, std::span<const int64_t> shape) {
  std::string dict = "{'descr': '" + descr_of(dt) + "', 'fortran_order': False, 'shape': " + shape_str(shape) + ", }";
  for (int version : {1, 2}) {
    size_t pre = version == 1 ? 10 : 12;
    size_t total = (pre + dict.size() + 1 + 63) / 64 * 64;
    size_t len = total - pre;
    if (version == 1 && len > 0xffff) continue;
    std::string h(kMagic, kMagicLen);
    h += char(version);
    h += char(0);
    for (size_t b = 0; b < pre - 8; ++b) h += char((len >> (8 * b)) & 0xff);
    h += dict;
    h.append(total - h.size() - 1, ' ');
    h += '\n';
    return h;
  }
  SP_FAIL("npy: unreachable header version");
}

std::string temp_name(const std::string& path) {
  static std::atomic<uint64_t> counter{0};
  return path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
}

}  // namespace

std::string descr_of(DType dt) {
  switch (dt) {
    case DType::boolean: return "|b1";
    case DType::u8: return "|u1";
    case DType::i32: return "<i4";
    case DType::i64: return "<i8";
    case DType::f16: return "<f2";
    case DType::f32: return "<f4";
    case DType::f64: return "<f8";
    case DType::bf16: break;
  }
  SP_FAIL("npy: dtype ", dtype_name(dt), " has no numpy equivalent");
}

std::string shape_str(std::span<const int64_t> shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  if (shape.size() == 1) s += ",";
  return s + ")";
}

Header parse_header_dict(const std::string& path, const std::string& dict) { return DictParser(path, dict).parse(); }

Reader::Reader(std::string path) : path_(std::move(path)) {
  fd_ = data::open_regular_file(path_);  // refuses FIFOs and devices without blocking on them
  try {
    struct stat st;
    SP_CHECK(::fstat(fd_, &st) == 0, path_, ": stat failed: ", errno_str());
    SP_CHECK(S_ISREG(st.st_mode), path_, ": not a regular file");
    size_t size = size_t(st.st_size);
    SP_CHECK(size >= 10, path_, ": not a .npy file (", size, " bytes, shorter than the 10-byte preamble)");
    unsigned char pre[12] = {};
    read_exact(fd_, path_, pre, std::min<size_t>(size, 12), 0);
    SP_CHECK(std::memcmp(pre, kMagic, kMagicLen) == 0, path_, ": not a .npy file (bad magic string)");
    int major = pre[6], minor = pre[7];
    SP_CHECK((major >= 1 && major <= 3) && minor == 0, path_, ": unsupported .npy format version ", major, ".", minor);
    size_t len, pre_len;
    if (major == 1) {
      len = size_t(pre[8]) | size_t(pre[9]) << 8;
      pre_len = 10;
    } else {
      SP_CHECK(size >= 12, path_, ": truncated .npy preamble");
      len = size_t(pre[8]) | size_t(pre[9]) << 8 | size_t(pre[10]) << 16 | size_t(pre[11]) << 24;
      pre_len = 12;
    }
    SP_CHECK(len <= kMaxHeaderLen, path_, ": .npy header length ", len, " is implausibly large");
    SP_CHECK(pre_len + len <= size, path_, ": truncated .npy header (", len, " header bytes announced, file has ",
             size, " bytes)");
    std::string dict(len, '\0');
    read_exact(fd_, path_, dict.data(), len, off_t(pre_len));
    h_ = parse_header_dict(path_, dict);
    h_.version = major;
    h_.data_offset = pre_len + len;
    size_t item = dtype_size(h_.dtype);
    SP_CHECK(uint64_t(h_.numel) <= std::numeric_limits<uint64_t>::max() / item, path_, ": array too large");
    uint64_t need = uint64_t(h_.numel) * item;
    SP_CHECK(size - h_.data_offset == need, path_, ": file size does not match the header: shape ",
             shape_str(h_.shape), " of ", descr_of(h_.dtype), " needs ", need, " data bytes after the ",
             h_.data_offset, "-byte header, the file has ", size - h_.data_offset,
             need > size - h_.data_offset ? " (truncated)" : " (trailing bytes)");
  } catch (...) {
    ::close(fd_);
    throw;
  }
}

Reader::~Reader() {
  if (fd_ >= 0) ::close(fd_);
}

void Reader::read(void* dst, int64_t first, int64_t count) const {
  SP_CHECK(first >= 0 && count >= 0 && first <= h_.numel - count, path_, ": read of elements [", first, ", ",
           first + count, ") outside the array of ", h_.numel);
  size_t item = dtype_size(h_.dtype);
  read_exact(fd_, path_, dst, size_t(count) * item, off_t(h_.data_offset + size_t(first) * item));
}

std::vector<int64_t> Reader::read_labels() const {
  SP_CHECK(h_.dtype != DType::boolean, path_, ": holds a bool array; labels and indices must be an integer array");
  return read_integers();
}

std::vector<int64_t> Reader::read_integers() const {
  std::vector<int64_t> out(size_t(h_.numel));
  auto widen = [&](auto tag) {
    using T = decltype(tag);
    std::vector<T> v = read_all<T>();
    for (size_t i = 0; i < v.size(); ++i) out[i] = int64_t(v[i]);
  };
  switch (h_.dtype) {
    case DType::boolean: {
      std::vector<uint8_t> v(out.size());
      read(v.data(), 0, h_.numel);
      for (size_t i = 0; i < v.size(); ++i) {
        SP_CHECK(v[i] <= 1, path_, ": bool element ", i, " has byte value ", int(v[i]), " (not 0 or 1)");
        out[i] = v[i];
      }
      break;
    }
    case DType::u8: widen(uint8_t{}); break;
    case DType::i32: widen(int32_t{}); break;
    case DType::i64: read(out.data(), 0, h_.numel); break;
    default: SP_FAIL(path_, ": expected an integer or bool array, file has dtype ", descr_of(h_.dtype));
  }
  return out;
}

Writer::Writer(std::string path, DType dt, std::span<const int64_t> shape) : path_(std::move(path)), dt_(dt) {
  for (int64_t d : shape) {
    SP_CHECK(d >= 0, path_, ": negative dimension in shape ", shape_str(shape));
    numel_ *= d;
  }
  std::string header = make_header(dt, shape);  // throws for bf16 before any file is created
  tmp_ = temp_name(path_);
  fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  SP_CHECK(fd_ >= 0, path_, ": cannot create ", tmp_, ": ", errno_str());
  try {
    write_exact(fd_, path_, header.data(), header.size());
  } catch (...) {
    ::close(fd_);
    ::unlink(tmp_.c_str());
    fd_ = -1;
    throw;
  }
}

Writer::~Writer() {
  if (fd_ >= 0) {
    ::close(fd_);
    ::unlink(tmp_.c_str());
  }
}

void Writer::append(const void* data, int64_t count) {
  SP_CHECK(fd_ >= 0, path_, ": append after commit");
  SP_CHECK(count >= 0 && written_ + count <= numel_, path_, ": appending ", count, " elements to ", written_,
           " of ", numel_);
  write_exact(fd_, path_, data, size_t(count) * dtype_size(dt_));
  written_ += count;
}

void Writer::commit() {
  SP_CHECK(fd_ >= 0, path_, ": commit called twice");
  SP_CHECK(written_ == numel_, path_, ": only ", written_, " of ", numel_, " elements were written");
  int fd = fd_;
  fd_ = -1;
  bool ok = ::fsync(fd) == 0;
  std::string err = ok ? "" : "fsync: " + errno_str();
  if (::close(fd) != 0 && ok) {
    ok = false;
    err = "close: " + errno_str();
  }
  if (ok && ::rename(tmp_.c_str(), path_.c_str()) != 0) {
    ok = false;
    err = "rename from " + tmp_ + ": " + errno_str();
  }
  if (!ok) {
    ::unlink(tmp_.c_str());
    SP_FAIL(path_, ": ", err);
  }
}

void write(const std::string& path, DType dt, std::span<const int64_t> shape, const void* data) {
  Writer w(path, dt, shape);
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  w.append(data, n);
  w.commit();
}

void write_bool(const std::string& path, std::span<const int64_t> shape, const std::vector<uint8_t>& v) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  SP_CHECK(int64_t(v.size()) == n, path, ": ", v.size(), " values for shape ", shape_str(shape));
  for (size_t i = 0; i < v.size(); ++i) SP_CHECK(v[i] <= 1, path, ": bool value ", int(v[i]), " at index ", i);
  write(path, DType::boolean, shape, v.data());
}

Tensor load(const std::string& path) {
  Reader r(path);
  SP_CHECK(int(r.shape().size()) <= Shape::kMaxDims, path, ": ", r.shape().size(), " dimensions (at most ",
           Shape::kMaxDims, " supported)");
  Tensor t = Tensor::empty(Shape(r.shape().begin(), r.shape().end()), r.dtype());
  r.read(t.raw_data(), 0, r.numel());
  return t;
}

void save(const std::string& path, const Tensor& t) {
  Tensor c = t.to(Device::cpu()).contiguous();
  std::vector<int64_t> shape(c.shape().begin(), c.shape().end());
  write(path, c.dtype(), shape, c.numel() ? c.raw_data() : nullptr);
}

}  // namespace sp::npy
