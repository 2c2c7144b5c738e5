// SHA-256 against the FIPS 180-4 examples, chunked updates, and a file.
#include "data/file_util.h"
#include "data/sha256.h"
#include "tests/data_test_util.h"

using namespace sp;
using namespace sp::data;

TEST(DataSha256, FipsVectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  std::string million(1000000, 'a');
  EXPECT_EQ(sha256_hex(million), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(DataSha256, ChunkedUpdatesMatchOneShot) {
  std::string s;
  for (int i = 0; i < 1000; ++i) s += char(i * 7 + 3);
  std::string want = sha256_hex(s);
  for (size_t chunk : {1u, 3u, 63u, 64u, 65u, 200u}) {
    Sha256 h;
    for (size_t at = 0; at < s.size(); at += chunk) h.update(s.data() + at, std::min(chunk, s.size() - at));
    EXPECT_EQ(h.hex_digest(), want) << "chunk " << chunk;
  }
}

TEST(DataSha256, FileAndChecksumFile) {
  test::TempDir dir("sha256");
  write_file_atomic(dir / "x.bin", std::string("abc"));
  EXPECT_EQ(sha256_file(dir / "x.bin"), sha256_hex("abc"));
  write_file_atomic(dir / "x.sha256", "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD  x.bin\n");
  EXPECT_EQ(read_sha256_file(dir / "x.sha256"), sha256_hex("abc"));
  write_file_atomic(dir / "bad.sha256", std::string("not-a-checksum x.bin\n"));
  EXPECT_THROW(read_sha256_file(dir / "bad.sha256"), Error);
  EXPECT_THROW(sha256_file(dir / "missing.bin"), Error);
}

TEST(DataSha256, MovesKeepTheStateAndMisuseIsAnError) {
  Sha256 a;
  a.update("ab");
  Sha256 b(std::move(a));
  b.update("c");
  Sha256 c;
  c = std::move(b);
  EXPECT_EQ(c.hex_digest(), sha256_hex("abc"));
  EXPECT_THROW(c.update("x"), Error);  // after digest()
  EXPECT_THROW(c.digest(), Error);
  EXPECT_THROW(a.update("x"), Error);  // moved from
}
