// One-time archive extraction: extracts once (a second call reuses the tree), re-extracts when the archive
// changes, and refuses a wrong checksum or a corrupt archive without leaving a partial tree behind.
#include "data/archive.h"
#include "data/file_util.h"
#include "data/sha256.h"
#include "tests/data_test_util.h"

using namespace sp;
using namespace sp::data;
namespace fs = std::filesystem;

namespace {
std::string make_tar(const test::TempDir& dir, const std::string& name, const std::string& content) {
  fs::create_directories(dir / "src/sub");
  write_file_atomic(dir / "src/sub/file.txt", content);
  std::string tgz = dir / name;
  EXPECT_EQ(run_program({"tar", "-czf", tgz, "-C", dir / "src", "sub"}), 0);
  return tgz;
}
std::string slurp(const std::string& p) {
  auto b = read_file_bytes(p);
  return std::string(b.begin(), b.end());
}
}  // namespace

TEST(DataArchive, ExtractsOnceAndOnChange) {
  test::TempDir dir("archive_ok");
  std::string a = make_tar(dir, "a.tar.gz", "first");
  std::string dest = dir / "out/tree";
  EXPECT_EQ(extract_archive_once(a, sha256_file(a), dest), dest);
  EXPECT_EQ(slurp(dest + "/sub/file.txt"), "first");
  write_file_atomic(dest + "/marker", std::string("x"));
  extract_archive_once(a, sha256_file(a), dest);  // same archive: tree kept as is
  EXPECT_TRUE(fs::exists(dest + "/marker"));
  std::string b = make_tar(dir, "b.tar.gz", "second");
  extract_archive_once(b, sha256_file(b), dest);  // another archive: fresh tree
  EXPECT_EQ(slurp(dest + "/sub/file.txt"), "second");
  EXPECT_FALSE(fs::exists(dest + "/marker"));
}

TEST(DataArchive, RefusesBadChecksumAndCorruptArchive) {
  test::TempDir dir("archive_bad");
  std::string a = make_tar(dir, "a.tar.gz", "data");
  std::string dest = dir / "out/tree";
  try {
    extract_archive_once(a, std::string(64, '0'), dest);
    FAIL() << "wrong checksum accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(a), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(dest));
  write_file_atomic(dir / "junk.tar.gz", std::string("definitely not gzip"));
  EXPECT_THROW(extract_archive_once(dir / "junk.tar.gz", sha256_file(dir / "junk.tar.gz"), dest), Error);
  EXPECT_FALSE(fs::exists(dest));
  for (const auto& e : fs::directory_iterator(dir / "out"))  // no temporary tree left behind
    EXPECT_EQ(e.path().filename().string(), "tree.lock");
  EXPECT_THROW(extract_archive_once(dir / "missing.tar.gz", std::string(64, '0'), dest), Error);
}
