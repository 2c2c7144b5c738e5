// CIFAR-10 binary batches (see cifar_binary.h).
#include "data/cifar_binary.h"

#include <cstring>
#include <filesystem>
#include <fstream>

#include "data/file_util.h"

namespace fs = std::filesystem;

namespace sp::data {

Dataset read_cifar10_batch(const std::string& path, const std::vector<std::string>& classes) {
  std::vector<uint8_t> bytes = read_file_bytes(path);
  int64_t n = int64_t(bytes.size());
  SP_CHECK(n > 0, "CIFAR-10 batch '", path, "' is empty");
  if (n % kCifarRecordBytes != 0) {
    // CIFAR-100's binary records carry two label bytes: say so rather than only "truncated".
    bool cifar100 = n % (kCifarRecordBytes + 1) == 0;
    SP_FAIL("CIFAR-10 batch '", path, "': ", n, " bytes is not a whole number of ", kCifarRecordBytes,
            "-byte records (", n / kCifarRecordBytes, " records and ", n % kCifarRecordBytes, " extra bytes)",
            cifar100 ? "; the size fits 3074-byte records: is this CIFAR-100?" : ": truncated or wrong record size");
  }
  int64_t count = n / kCifarRecordBytes;
  Dataset d = make_dataset(path, count, 3, 32, 32, classes);
  uint8_t* img = d.images.data<uint8_t>();
  int64_t* lab = d.labels.data<int64_t>();
  for (int64_t i = 0; i < count; ++i) {
    const uint8_t* rec = bytes.data() + i * kCifarRecordBytes;
    SP_CHECK(rec[0] < classes.size(), "CIFAR-10 batch '", path, "': record ", i, " has label ", int(rec[0]),
             ", out of range [0, ", classes.size(), ")");
    lab[i] = rec[0];
    memcpy(img + i * (kCifarRecordBytes - 1), rec + 1, size_t(kCifarRecordBytes - 1));
  }
  return d;
}

void write_cifar10_batch(const std::string& path, const Dataset& d) {
  d.validate("write_cifar10_batch");
  SP_CHECK(d.channels() == 3 && d.height() == 32 && d.width() == 32, "write_cifar10_batch '", path,
           "': images must be [N, 3, 32, 32], got ", d.images.str());
  SP_CHECK(d.num_classes() <= 256, "write_cifar10_batch '", path, "': ", d.num_classes(),
           " classes do not fit a label byte");
  std::vector<uint8_t> out(size_t(d.size() * kCifarRecordBytes));
  for (int64_t i = 0; i < d.size(); ++i) {
    out[size_t(i * kCifarRecordBytes)] = uint8_t(d.label(i));
    memcpy(&out[size_t(i * kCifarRecordBytes + 1)], d.image(i), size_t(kCifarRecordBytes - 1));
  }
  write_file_atomic(path, std::string_view(reinterpret_cast<const char*>(out.data()), out.size()));
}

namespace {
std::vector<std::string> read_meta(const fs::path& p) {
  std::vector<std::string> names;
  require_regular_file(p.string());
  std::ifstream in(p);
  SP_CHECK(in, "cannot open '", p.string(), "'");
  std::string line;
  while (std::getline(in, line)) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (!line.empty()) names.push_back(line);
  }
  SP_CHECK(names.size() >= 2 && names.size() <= 256, "'", p.string(), "' lists ", names.size(),
           " class names (expected 2..256)");
  return names;
}
}  // namespace

DatasetSplits load_cifar10_binary(const std::string& dir, const CifarBinaryOptions& opt) {
  fs::path root(dir);
  if (!fs::exists(root / "data_batch_1.bin") && fs::exists(root / "cifar-10-batches-bin" / "data_batch_1.bin"))
    root /= "cifar-10-batches-bin";
  SP_CHECK(fs::is_directory(root), "CIFAR-10 binary: '", dir, "' is not a directory");
  std::vector<std::string> classes =
      fs::exists(root / "batches.meta.txt") ? read_meta(root / "batches.meta.txt") : cifar10_classes();
  auto read = [&](const std::string& name) {
    fs::path p = root / name;
    SP_CHECK(fs::exists(p), "CIFAR-10 binary: missing '", p.string(), "'");
    Dataset b = read_cifar10_batch(p.string(), classes);
    SP_CHECK(!opt.require_full_batches || b.size() == kCifarRecordsPerBatch, "CIFAR-10 batch '", p.string(),
             "' holds ", b.size(), " records, expected ", kCifarRecordsPerBatch, " (truncated?)");
    return b;
  };
  std::vector<Dataset> train;
  for (int k = 1; k <= 5; ++k) train.push_back(read("data_batch_" + std::to_string(k) + ".bin"));
  DatasetSplits s;
  s.train = concat(train, "cifar10/train");
  s.test = read("test_batch.bin");
  s.test.name = "cifar10/test";
  return s;
}

}  // namespace sp::data
