// Poisson batches (see poisson_sampler.h).
#include "paradigms/dpsgd/poisson_sampler.h"

#include <algorithm>

#include "kernels/counter_rng.h"
#include "kernels/error.h"

namespace sp::dpsgd {

namespace {
constexpr uint64_t kPoissonPurpose = 0x504f4953534f4eULL;  // "POISSON"
}

std::vector<int64_t> poisson_batch(int64_t n, double q, uint64_t seed, int64_t step) {
  SP_CHECK(n >= 0 && q > 0 && q <= 1 && step >= 0, "poisson_batch: needs n >= 0, q in (0, 1], step >= 0; got n = ", n,
           ", q = ", q, ", step = ", step);
  std::vector<int64_t> ids;
  ids.reserve(size_t(double(n) * q * 1.2) + 16);
  crng::Stream32 rng(crng::derive_key(seed, kPoissonPurpose), uint64_t(step));
  for (int64_t i = 0; i < n; ++i)
    if (rng.uniform_d() < q) ids.push_back(i);
  return ids;
}

std::vector<std::vector<int64_t>> physical_batches(const std::vector<int64_t>& ids, int64_t max_size) {
  SP_CHECK(max_size >= 1, "physical_batches: size ", max_size, " must be >= 1");
  std::vector<std::vector<int64_t>> out;
  for (size_t lo = 0; lo < ids.size(); lo += size_t(max_size))
    out.emplace_back(ids.begin() + lo, ids.begin() + std::min(ids.size(), lo + size_t(max_size)));
  return out;
}

}  // namespace sp::dpsgd
