// Deterministic parameter initialisation from a counter-based generator. Element i of stream k under seed s
// is a pure function uniform(s, k, i), so an initialisation is the same on every device and thread count,
// and a parameter's values do not depend on which parameters come before it (streams are keyed by the
// parameter's name). Used by nn/models/model_base.cpp; tested in tests/test_models.cpp (range, moments,
// determinism, independent streams).
#pragma once
#include <cstdint>
#include <string_view>

#include "kernels/tensor.h"

namespace sp {

// A double in [0, 1) with 53 random bits. SplitMix64 is counter-based by construction (its state only
// advances by a constant), so its output function applied to key(seed, stream) + (counter + 1) * gamma
// gives random access into the sequence.
double counter_uniform(uint64_t seed, uint64_t stream, uint64_t counter);

// Stable 64-bit stream id of a name (FNV-1a).
uint64_t stream_id(std::string_view name);

// Writes U(lo, hi) from (seed, stream) into the contiguous f64 CPU range dst[0, n).
void fill_uniform(double* dst, int64_t n, double lo, double hi, uint64_t seed, uint64_t stream);

}  // namespace sp
