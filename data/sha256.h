// SHA-256, incremental, over OpenSSL's EVP digest interface (libcrypto). Verifies downloaded and shared
// archives against their published checksums and fingerprints datasets in experiment records. Tested in
// tests/test_data_sha256.cpp with the FIPS 180-4 example vectors, chunked updates, moves, and sha256sum's
// output for a file.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace sp::data {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&& o) noexcept;
  Sha256& operator=(Sha256&& o) noexcept;
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void update(const void* data, size_t n);
  void update(std::string_view s) { update(s.data(), s.size()); }
  std::array<uint8_t, 32> digest();  // finishes the hash; the object must not be updated afterwards
  std::string hex_digest();

 private:
  struct Ctx;  // OpenSSL's EVP_MD_CTX, kept out of this header
  Ctx* ctx_ = nullptr;
  bool done_ = false;
};

std::string sha256_hex(std::string_view bytes);
// Hex digest of a file's contents; throws naming the file when it cannot be read.
std::string sha256_file(const std::string& path);
// Reads the first hex token of a `sha256sum`-style line ("<64 hex>  name") from a file.
std::string read_sha256_file(const std::string& path);

}  // namespace sp::data
