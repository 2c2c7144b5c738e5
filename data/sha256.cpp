// SHA-256 through OpenSSL's EVP interface (see sha256.h). Every EVP call's status is checked: a failure
// (e.g. a FIPS provider that refuses the digest) is an error, never a wrong checksum.
#include "data/sha256.h"

#include <openssl/err.h>
#include <openssl/evp.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <vector>

#include "data/file_util.h"
#include "kernels/error.h"

namespace sp::data {

struct Sha256::Ctx {
  EVP_MD_CTX* md = nullptr;
};

namespace {

// The text of OpenSSL's most recent error, for messages.
std::string openssl_error() {
  const unsigned long e = ERR_get_error();
  if (e == 0) return "no OpenSSL error recorded";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

}  // namespace

Sha256::Sha256() : ctx_(new Ctx) {
  ctx_->md = EVP_MD_CTX_new();
  if (!ctx_->md) {
    delete ctx_;
    SP_FAIL("sha256: EVP_MD_CTX_new failed: ", openssl_error());
  }
  if (EVP_DigestInit_ex(ctx_->md, EVP_sha256(), nullptr) != 1) {
    const std::string why = openssl_error();
    EVP_MD_CTX_free(ctx_->md);
    delete ctx_;
    SP_FAIL("sha256: EVP_DigestInit_ex failed: ", why);
  }
}

Sha256::~Sha256() {
  if (ctx_) EVP_MD_CTX_free(ctx_->md);
  delete ctx_;
}

Sha256::Sha256(Sha256&& o) noexcept : ctx_(o.ctx_), done_(o.done_) { o.ctx_ = nullptr; }

Sha256& Sha256::operator=(Sha256&& o) noexcept {
  if (this != &o) {
    if (ctx_) EVP_MD_CTX_free(ctx_->md);
    delete ctx_;
    ctx_ = o.ctx_;
    done_ = o.done_;
    o.ctx_ = nullptr;
  }
  return *this;
}

void Sha256::update(const void* data, size_t n) {
  SP_CHECK(ctx_, "Sha256::update on a moved-from object");
  SP_CHECK(!done_, "Sha256::update after digest()");
  SP_CHECK(EVP_DigestUpdate(ctx_->md, data, n) == 1, "sha256: EVP_DigestUpdate failed: ", openssl_error());
}

std::array<uint8_t, 32> Sha256::digest() {
  SP_CHECK(ctx_, "Sha256::digest on a moved-from object");
  SP_CHECK(!done_, "Sha256::digest called twice");
  std::array<uint8_t, 32> out{};
  unsigned int len = 0;
  SP_CHECK(EVP_DigestFinal_ex(ctx_->md, out.data(), &len) == 1, "sha256: EVP_DigestFinal_ex failed: ", openssl_error());
  SP_CHECK(len == out.size(), "sha256: OpenSSL returned a ", len, "-byte digest, expected 32");
  done_ = true;
  return out;
}

std::string Sha256::hex_digest() {
  static const char* hex = "0123456789abcdef";
  std::string s;
  for (uint8_t b : digest()) {
    s += hex[b >> 4];
    s += hex[b & 15];
  }
  return s;
}
std::string sha256_hex(std::string_view bytes) {
  Sha256 h;
  h.update(bytes);
  return h.hex_digest();
}

std::string sha256_file(const std::string& path) {
  require_regular_file(path);
  std::unique_ptr<FILE, int (*)(FILE*)> f(fopen(path.c_str(), "rb"), fclose);
  SP_CHECK(f, "sha256: cannot open '", path, "': ", strerror(errno));
  Sha256 h;
  std::vector<char> buf(1 << 20);
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), f.get())) > 0) h.update(buf.data(), n);
  SP_CHECK(!ferror(f.get()), "sha256: read error on '", path, "'");
  return h.hex_digest();
}

std::string read_sha256_file(const std::string& path) {
  require_regular_file(path);
  std::ifstream in(path);
  SP_CHECK(in, "sha256: cannot open checksum file '", path, "'");
  std::string tok;
  in >> tok;
  bool ok = tok.size() == 64;
  for (char& c : tok) {
    c = char(tolower(c));
    ok = ok && isxdigit(static_cast<unsigned char>(c));
  }
  SP_CHECK(ok, "sha256: '", path, "' does not start with a 64-digit hex checksum");
  return tok;
}

}  // namespace sp::data
