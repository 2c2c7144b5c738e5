// Per-element math of the dropout mask (kernels/dropout.h), shared by both backends: element i of the
// mask for (key, stream id) reads word i % 4 of Philox4x32-10 block i / 4 with counter
// {b_lo, b_hi, id_lo, id_hi} -- the i-th word of crng::Stream32(key, stream_id) -- as the uniform
// u_i = word * 2^-32 in [0, 1) (exact in double), and keeps the element when u_i >= p. So the mask depends
// only on (key, stream id, i), never on the launch geometry or the backend. Tested in
// tests/test_ops_dropout.cpp (against Stream32, statistics) and tests/gpu/test_ops_dropout_gpu.cpp.
#pragma once
#include <cstdint>

#include "kernels/counter_rng.h"
#include "kernels/hd.h"

namespace sp::drop {

// The four words of block b (elements 4b .. 4b + 3) of stream (key, id).
SP_HD crng::U32x4 mask_words(uint64_t key, uint64_t id, uint64_t b) {
  return crng::philox4x32_10(crng::U32x4{{uint32_t(b), uint32_t(b >> 32), uint32_t(id), uint32_t(id >> 32)}},
                             uint32_t(key), uint32_t(key >> 32));
}

// u = word / 2^32 in [0, 1).
SP_HD double uniform_of(uint32_t word) { return double(word) * (1.0 / 4294967296.0); }

// The mask value of one element: `keep` (= 1 / (1 - p)) when u >= p, else 0.
template <class T>
SP_HD T mask_value(uint32_t word, double p, T keep) {
  return uniform_of(word) >= p ? keep : T(0);
}

}  // namespace sp::drop
