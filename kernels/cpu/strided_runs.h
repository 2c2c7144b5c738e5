// for_each_run: the CPU walk of a StridedIter (kernels/strided_iter.h) in runs along its innermost dim, so
// an elementwise loop computes one offset per run (a few divisions) instead of one per element, and the
// runs are split over kernels/cpu/parallel.h's threads when the output is large. Each output element is
// still computed by exactly one iteration with the same arithmetic, so results do not depend on the thread
// count. Used by kernels/cpu/elementwise.cpp and kernels/cpu/reduce.cpp; tested through
// tests/test_ops_elementwise.cpp and tests/test_ops_reduce.cpp (strided, broadcast and large inputs).
#pragma once
#include <algorithm>
#include <cstdint>

#include "kernels/cpu/parallel.h"
#include "kernels/strided_iter.h"

namespace sp::cpu {

// f(i, len, off, step): output elements [i, i + len) read input k at off[k] + t * step[k], t < len.
template <int K, class F>
void for_each_run(const StridedIter<K>& it, int64_t n, F&& f) {
  if (n <= 0) return;
  const int64_t inner = it.n == 0 ? 1 : it.size[it.n - 1];
  int64_t step[K];
  for (int k = 0; k < K; ++k) step[k] = it.n == 0 ? 0 : it.stride[k][it.n - 1];
  auto walk = [&](int64_t i, int64_t end) {
    while (i < end) {
      const int64_t len = std::min(inner - i % inner, end - i);
      int64_t off[K];
      it.offsets(i, off);
      f(i, len, off, step);
      i += len;
    }
  };
  constexpr int64_t kChunk = int64_t(1) << 15;  // below this a thread hand-off costs more than it saves
  if (n < 2 * kChunk) {
    walk(0, n);
    return;
  }
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  parallel_for(chunks, [&](int64_t c) { walk(c * kChunk, std::min(n, (c + 1) * kChunk)); });
}

}  // namespace sp::cpu
