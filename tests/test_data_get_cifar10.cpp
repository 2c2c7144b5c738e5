// tools/get_cifar10.sh with a file:// URL and a small archive in the official layout: fetch, verify,
// unpack, then load; a wrong checksum, a missing URL and an archive without the batch folder fail with a
// non-zero exit and leave nothing behind; a second run with the data present does nothing.
#include "data/archive.h"
#include "data/cifar_binary.h"
#include "data/file_util.h"
#include "data/sha256.h"
#include "tests/data_test_util.h"

using namespace sp;
using namespace sp::data;
namespace fs = std::filesystem;

namespace {
Dataset small(int64_t n, int seed) {
  Dataset d = make_dataset("s", n, 3, 32, 32, cifar10_classes());
  for (int64_t i = 0; i < d.images.numel(); ++i) d.images.data<uint8_t>()[i] = uint8_t(i * 3 + seed);
  for (int64_t i = 0; i < n; ++i) d.labels.data<int64_t>()[i] = (i + seed) % 10;
  return d;
}
int get(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"bash", std::string(SP_SOURCE_DIR) + "/tools/get_cifar10.sh"};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_program(argv);
}
bool no_leftovers(const std::string& dest) {
  if (!fs::exists(dest)) return true;
  for (const auto& e : fs::directory_iterator(dest))
    if (e.path().filename().string().rfind(".get_cifar10", 0) == 0) return false;
  return true;
}
}  // namespace

TEST(DataGetCifar10, FileUrlRoundTrip) {
  test::TempDir dir("get_cifar10");
  std::string src = dir / "src/cifar-10-batches-bin";
  fs::create_directories(src);
  for (int k = 1; k <= 5; ++k) write_cifar10_batch(src + "/data_batch_" + std::to_string(k) + ".bin", small(4, k));
  write_cifar10_batch(src + "/test_batch.bin", small(3, 7));
  ASSERT_EQ(run_program({"tar", "-czf", dir / "c10.tar.gz", "-C", dir / "src", "cifar-10-batches-bin"}), 0);
  std::string url = "file://" + fs::absolute(dir / "c10.tar.gz").string(), sha = sha256_file(dir / "c10.tar.gz");

  EXPECT_NE(get({"--url", url, "--sha256", std::string(64, 'a'), "--dest", dir / "bad"}), 0);
  EXPECT_FALSE(fs::exists(dir / "bad/cifar-10-batches-bin"));
  EXPECT_TRUE(no_leftovers(dir / "bad"));
  EXPECT_NE(get({"--url", "file://" + dir.path() + "/missing.tar.gz", "--sha256", sha, "--dest", dir / "bad"}), 0);
  EXPECT_TRUE(no_leftovers(dir / "bad"));
  EXPECT_NE(get({"--sha256", "xyz", "--dest", dir / "bad"}), 0);
  EXPECT_NE(get({"--bogus"}), 0);

  ASSERT_EQ(get({"--url", url, "--sha256", sha, "--dest", dir / "out"}), 0);
  EXPECT_TRUE(no_leftovers(dir / "out"));
  DatasetSplits s = load_cifar10_binary(dir / "out", {.require_full_batches = false});
  EXPECT_EQ(s.train.size(), 20);
  EXPECT_EQ(s.test.size(), 3);
  EXPECT_EQ(fingerprint(s.train), fingerprint(concat({small(4, 1), small(4, 2), small(4, 3), small(4, 4), small(4, 5)}, "x")));
  // Present already: nothing is fetched (the URL is never touched).
  EXPECT_EQ(get({"--url", "file:///nonexistent", "--dest", dir / "out"}), 0);

  // An archive of the wrong shape is refused.
  fs::create_directories(dir / "other/some-folder");
  write_file_atomic(dir / "other/some-folder/x.bin", std::string("x"));
  ASSERT_EQ(run_program({"tar", "-czf", dir / "other.tar.gz", "-C", dir / "other", "some-folder"}), 0);
  EXPECT_NE(get({"--url", "file://" + fs::absolute(dir / "other.tar.gz").string(), "--sha256",
                 sha256_file(dir / "other.tar.gz"), "--dest", dir / "out2"}), 0);
  EXPECT_FALSE(fs::exists(dir / "out2/cifar-10-batches-bin"));
}
