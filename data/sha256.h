// SHA-256 (FIPS 180-4), incremental. Verifies downloaded and shared archives against their published
// checksums and fingerprints datasets in experiment records. Tested in tests/test_data_sha256.cpp with the
// FIPS 180-4 example vectors, chunked updates and sha256sum's output for a file.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace sp::data {

class Sha256 {
 public:
  Sha256();
  void update(const void* data, size_t n);
  void update(std::string_view s) { update(s.data(), s.size()); }
  std::array<uint8_t, 32> digest();  // finishes the hash; the object must not be updated afterwards
  std::string hex_digest();

 private:
  void block(const uint8_t* p);
  uint32_t h_[8];
  uint8_t buf_[64];
  size_t fill_ = 0;
  uint64_t total_ = 0;
  bool done_ = false;
};

std::string sha256_hex(std::string_view bytes);
// Hex digest of a file's contents; throws naming the file when it cannot be read.
std::string sha256_file(const std::string& path);
// Reads the first hex token of a `sha256sum`-style line ("<64 hex>  name") from a file.
std::string read_sha256_file(const std::string& path);

}  // namespace sp::data
