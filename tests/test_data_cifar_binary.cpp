// CIFAR-10 binary layout: write/read round trip of a small file and a whole small batch folder, record
// layout (label byte then R, G, B planes), and bad input: truncated file, wrong record size, label out of
// range, missing batch, short batch when full batches are required.
#include "data/cifar_binary.h"
#include "data/file_util.h"
#include "tests/data_test_util.h"

using namespace sp;
using namespace sp::data;

namespace {
Dataset small_set(int64_t n, uint64_t seed) {
  Dataset d = make_dataset("small", n, 3, 32, 32, cifar10_classes());
  uint8_t* p = d.images.data<uint8_t>();
  for (int64_t i = 0; i < d.images.numel(); ++i) p[i] = uint8_t((i * 131 + seed * 17) % 251);
  for (int64_t i = 0; i < n; ++i) d.labels.data<int64_t>()[i] = (i * 3 + int64_t(seed)) % 10;
  return d;
}
void write_raw(const std::string& path, const std::vector<uint8_t>& b) {
  write_file_atomic(path, std::string_view(reinterpret_cast<const char*>(b.data()), b.size()));
}
}  // namespace

TEST(DataCifarBinary, RoundTrip) {
  test::TempDir dir("cifar_bin_rt");
  Dataset d = small_set(7, 1);
  write_cifar10_batch(dir / "b.bin", d);
  std::vector<uint8_t> raw = read_file_bytes(dir / "b.bin");
  ASSERT_EQ(raw.size(), size_t(7 * kCifarRecordBytes));
  // Record 2: label byte, then R plane, G plane, B plane.
  EXPECT_EQ(raw[2 * kCifarRecordBytes], uint8_t(d.label(2)));
  EXPECT_EQ(raw[2 * kCifarRecordBytes + 1 + 1024 + 5 * 32 + 9], d.image(2)[1024 + 5 * 32 + 9]);  // G at (5, 9)
  Dataset r = read_cifar10_batch(dir / "b.bin");
  EXPECT_EQ(r.images.shape(), Shape({7, 3, 32, 32}));
  EXPECT_EQ(r.images.to_vector<uint8_t>(), d.images.to_vector<uint8_t>());
  EXPECT_EQ(r.labels.to_vector<int64_t>(), d.labels.to_vector<int64_t>());
  EXPECT_EQ(r.classes, cifar10_classes());
  EXPECT_EQ(fingerprint(r), fingerprint(d));
}

TEST(DataCifarBinary, FolderLayout) {
  test::TempDir dir("cifar_bin_dir");
  std::string root = dir / "cifar-10-batches-bin";
  std::filesystem::create_directories(root);
  for (int k = 1; k <= 5; ++k) write_cifar10_batch(root + "/data_batch_" + std::to_string(k) + ".bin", small_set(3, k));
  write_cifar10_batch(root + "/test_batch.bin", small_set(4, 9));
  write_file_atomic(root + "/batches.meta.txt", std::string("a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n\n"));
  EXPECT_THROW(load_cifar10_binary(dir.path()), Error);  // official batches hold 10,000 records
  DatasetSplits s = load_cifar10_binary(dir.path(), {.require_full_batches = false});
  EXPECT_EQ(s.train.size(), 15);
  EXPECT_EQ(s.test.size(), 4);
  EXPECT_EQ(s.train.classes[9], "j");
  EXPECT_EQ(s.train.label(3), small_set(3, 2).label(0));  // batch order 1..5
  EXPECT_EQ(s.train.image(14)[100], small_set(3, 5).image(2)[100]);
  std::filesystem::remove(root + "/data_batch_4.bin");
  try {
    load_cifar10_binary(root, {.require_full_batches = false});
    FAIL() << "missing batch accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("data_batch_4.bin"), std::string::npos) << e.what();
  }
}

TEST(DataCifarBinary, BadInputNamesTheFile) {
  test::TempDir dir("cifar_bin_bad");
  write_cifar10_batch(dir / "ok.bin", small_set(3, 0));
  std::vector<uint8_t> raw = read_file_bytes(dir / "ok.bin");

  auto expect_error = [&](const std::string& file, const std::string& needle) {
    try {
      read_cifar10_batch(file);
      ADD_FAILURE() << file << " was accepted";
    } catch (const Error& e) {
      std::string m = e.what();
      EXPECT_NE(m.find(file), std::string::npos) << m;
      EXPECT_NE(m.find(needle), std::string::npos) << m;
    }
  };
  std::vector<uint8_t> cut(raw.begin(), raw.end() - 100);
  write_raw(dir / "truncated.bin", cut);
  expect_error(dir / "truncated.bin", "not a whole number");
  std::vector<uint8_t> c100(size_t(3 * (kCifarRecordBytes + 1)), 0);  // CIFAR-100 records: 2 label bytes
  write_raw(dir / "c100.bin", c100);
  expect_error(dir / "c100.bin", "CIFAR-100");
  std::vector<uint8_t> bad = raw;
  bad[kCifarRecordBytes] = 10;
  write_raw(dir / "label.bin", bad);
  expect_error(dir / "label.bin", "record 1 has label 10");
  write_raw(dir / "empty.bin", {});
  expect_error(dir / "empty.bin", "empty");
  expect_error(dir / "missing.bin", "cannot open");
  Dataset grey = make_dataset("grey", 1, 1, 32, 32, cifar10_classes());
  EXPECT_THROW(write_cifar10_batch(dir / "grey.bin", grey), Error);
}
