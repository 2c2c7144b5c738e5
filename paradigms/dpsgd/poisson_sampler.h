// Poisson sampling of DP-SGD's logical batches, the sampling the accountants assume (lira-dpsgd.md §3.2): at
// logical step t every one of the N examples is included independently with probability q, so batch sizes
// vary (Binomial(N, q)) and may be 0. The draw of example i at step t is a counter-based uniform keyed by
// (seed, t), so a step's batch depends on nothing else and a resumed run draws the same batches.
// Tested in tests/test_dpsgd_sampling.cpp (mean and variance of the batch size, inclusion frequencies,
// determinism).
#pragma once
#include <cstdint>
#include <vector>

namespace sp::dpsgd {

// Ascending indices in [0, n) of the examples in logical step `step`; q in (0, 1].
std::vector<int64_t> poisson_batch(int64_t n, double q, uint64_t seed, int64_t step);

// Splits a logical batch into consecutive physical batches of at most `max_size` examples (none when empty).
std::vector<std::vector<int64_t>> physical_batches(const std::vector<int64_t>& ids, int64_t max_size);

}  // namespace sp::dpsgd
