// Counter-based random numbers (Philox4x32-10 and the splitmix64 mixer) written once for host and device,
// so a value depends only on (key, counter) and never on thread count, call order or backend. Everything
// random in data/ (procedural images, audit choice, canary labels, membership) and the per-image
// augmentation parameters on both backends come from here. Tested in tests/test_data_rng.cpp (Random123
// known-answer vectors, uniformity, unbiased bounded integers).
#pragma once
#include <cstdint>

#include "kernels/hd.h"

namespace sp::crng {

// splitmix64's output function: a bijective 64-bit mixer; used to turn (seed, purpose) into keys.
SP_HD uint64_t mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// Derives an independent 64-bit key for a named purpose from a seed (purpose is a small constant).
SP_HD uint64_t derive_key(uint64_t seed, uint64_t purpose) { return mix64(mix64(seed) ^ mix64(~purpose)); }

struct U32x4 {
  uint32_t v[4];
};

SP_HD uint32_t mulhi32(uint32_t a, uint32_t b) { return uint32_t((uint64_t(a) * b) >> 32); }

// Philox4x32 with 10 rounds (Salmon et al., SC'11): 128-bit counter, 64-bit key.
SP_HD U32x4 philox4x32_10(U32x4 ctr, uint32_t k0, uint32_t k1) {
  constexpr uint32_t M0 = 0xD2511F53u, M1 = 0xCD9E8D57u, W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;
  for (int r = 0; r < 10; ++r) {
    uint32_t hi0 = mulhi32(M0, ctr.v[0]), lo0 = M0 * ctr.v[0];
    uint32_t hi1 = mulhi32(M1, ctr.v[2]), lo1 = M1 * ctr.v[2];
    ctr = U32x4{{hi1 ^ ctr.v[1] ^ k0, lo1, hi0 ^ ctr.v[3] ^ k1, lo0}};
    k0 += W0;
    k1 += W1;
  }
  return ctr;
}

// An endless stream of 32-bit words for one (key, stream id): block b of the stream is
// philox(counter = {b_lo, b_hi, id_lo, id_hi}, key). Two streams with different ids or keys never overlap.
class Stream32 {
 public:
  SP_HD Stream32(uint64_t key, uint64_t id) : k0_(uint32_t(key)), k1_(uint32_t(key >> 32)), id_(id) {}

  SP_HD uint32_t next_u32() {
    if (pos_ == 4) {
      buf_ = philox4x32_10(U32x4{{uint32_t(block_), uint32_t(block_ >> 32), uint32_t(id_), uint32_t(id_ >> 32)}},
                           k0_, k1_);
      ++block_;
      pos_ = 0;
    }
    return buf_.v[pos_++];
  }
  SP_HD uint64_t next_u64() {
    uint64_t hi = next_u32();
    return hi << 32 | next_u32();
  }
  // Uniform in [0, n) without modulo bias (Lemire's multiply-and-reject); n >= 1.
  SP_HD uint32_t below(uint32_t n) {
    uint64_t m = uint64_t(next_u32()) * n;
    uint32_t low = uint32_t(m);
    if (low < n) {
      uint32_t threshold = uint32_t(-n) % n;  // 2^32 mod n
      while (low < threshold) {
        m = uint64_t(next_u32()) * n;
        low = uint32_t(m);
      }
    }
    return uint32_t(m >> 32);
  }
  // Uniform in [0, n) for 64-bit n, by rejection on the smallest covering power of two.
  SP_HD uint64_t below64(uint64_t n) {
    if (n <= 0xffffffffull) return below(uint32_t(n));
    uint64_t mask = n - 1;
    mask |= mask >> 1, mask |= mask >> 2, mask |= mask >> 4, mask |= mask >> 8, mask |= mask >> 16,
        mask |= mask >> 32;
    uint64_t x;
    do x = next_u64() & mask;
    while (x >= n);
    return x;
  }
  // Uniform in [0, 1) with 24 random bits (exact in float).
  SP_HD float uniform_f() { return float(next_u32() >> 8) * (1.0f / 16777216.0f); }
  // Uniform in [0, 1) with 53 random bits (exact in double).
  SP_HD double uniform_d() { return double(next_u64() >> 11) * (1.0 / 9007199254740992.0); }
  // Uniform in [lo, hi).
  SP_HD float uniform(float lo, float hi) { return lo + (hi - lo) * uniform_f(); }

 private:
  uint32_t k0_, k1_;
  uint64_t id_;
  uint64_t block_ = 0;
  U32x4 buf_{{0, 0, 0, 0}};
  int pos_ = 4;
};

}  // namespace sp::crng
