// Counter-based uniform numbers for parameter initialisation (see init.h).
#include "nn/init.h"

namespace sp {
namespace {
constexpr uint64_t kGamma = 0x9E3779B97F4A7C15ull;  // SplitMix64's increment (2^64 / golden ratio)

uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
uint64_t key_of(uint64_t seed, uint64_t stream) { return mix64(mix64(seed) ^ (stream * kGamma + 0x632BE59BD9B4E019ull)); }
double unit(uint64_t bits) { return double(bits >> 11) * 0x1.0p-53; }
}  // namespace

double counter_uniform(uint64_t seed, uint64_t stream, uint64_t counter) {
  return unit(mix64(key_of(seed, stream) + (counter + 1) * kGamma));
}

uint64_t stream_id(std::string_view name) {
  uint64_t h = 0xCBF29CE484222325ull;
  for (char c : name) {
    h ^= uint8_t(c);
    h *= 0x100000001B3ull;
  }
  return h;
}

void fill_uniform(double* dst, int64_t n, double lo, double hi, uint64_t seed, uint64_t stream) {
  const uint64_t key = key_of(seed, stream);
  for (int64_t i = 0; i < n; ++i) dst[i] = lo + (hi - lo) * unit(mix64(key + (uint64_t(i) + 1) * kGamma));
}

}  // namespace sp
