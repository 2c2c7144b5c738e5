// Shared pieces of the reduction kernels (SP_HD, both backends): the reduction geometry, the sum and max
// reducers (state, element update, merge of two partial states, final write) and the max ordering. The CPU
// reference runs the same reducers sequentially; CUDA merges them in a fixed tree, so both agree up to
// rounding and CUDA is deterministic. Tested in tests/test_ops_reduce.cpp and, CPU against CUDA, in
// tests/gpu/test_ops_reduce_gpu.cpp.
#pragma once
#include <cstdint>

#include "kernels/elem.h"
#include "kernels/elementwise_math.h"
#include "kernels/hd.h"

namespace sp {

// Input element (o, r) -- output o, reduced position r, both row-major over their own dims -- lives at
// kept(o) + red(r). Logical (row-major, contiguous) input indices: kept_l(o) + red_l(r). Outputs are
// contiguous, so output o is element o.
struct ReduceGeom {
  int64_t outer = 1;  // number of outputs
  int64_t inner = 1;  // elements reduced into each output
  Indexer kept, red, kept_l, red_l;
  // The input's fastest-moving dim is reduced: neighbouring threads should share an output.
  bool inner_reduced = false;
};

SP_HD int64_t index_offset(const Indexer& ix, int64_t i) {
  if (ix.n == 0) return 0;
  if (ix.n == 1) return i * ix.stride[0];
  return ix.offset(i);
}

// Order of the max reduction: NaN above every number; among equal values the smaller index wins, so
// argmax is the first maximum in row-major order whatever order partial results are merged in.
template <class T>
SP_HD bool max_prefer(T v, int64_t i, T best, int64_t best_i) {
  bool vn = v != v, bn = best != best;
  if (vn != bn) return vn;
  if (vn) return i < best_i;
  return v > best || (v == best && i < best_i);
}

// out[o] = alpha * sum + beta * out[o], accumulating in A (double on the CPU, T on CUDA).
template <class T, class A>
struct SumReducer {
  struct State {
    A v;
  };
  struct Out {
    T* out;
    A alpha, beta;
  };
  static SP_HD State init() {
    State s;
    s.v = A(0);
    return s;
  }
  static SP_HD void add(State& s, T x, int64_t) { s.v += A(x); }
  static SP_HD void merge(State& s, const State& o) { s.v += o.v; }
  static SP_HD void write(const Out& p, const ReduceGeom&, int64_t o, const State& s) {
    p.out[o] = T(p.beta == A(0) ? p.alpha * s.v : p.alpha * s.v + p.beta * A(p.out[o]));
  }
};

// out[o] = max, argmax[o] = logical input index of the first maximum.
template <class T>
struct MaxReducer {
  struct State {
    T v;
    int64_t i;  // reduced position of the best so far; -1 while empty
  };
  struct Out {
    T* out;
    int64_t* argmax;
  };
  static SP_HD State init() {
    State s;
    s.v = T(0);
    s.i = -1;
    return s;
  }
  static SP_HD void add(State& s, T x, int64_t r) {
    if (s.i < 0 || max_prefer(x, r, s.v, s.i)) {
      s.v = x;
      s.i = r;
    }
  }
  static SP_HD void merge(State& s, const State& o) {
    if (o.i >= 0) add(s, o.v, o.i);
  }
  static SP_HD void write(const Out& p, const ReduceGeom& g, int64_t o, const State& s) {
    p.out[o] = s.v;
    p.argmax[o] = index_offset(g.kept_l, o) + index_offset(g.red_l, s.i);
  }
};

// Gradient reaching input element i from output o: all of gy[o] for sum/mean, only at the argmax for max.
template <class T>
SP_HD T spread_grad(const T* gy, const int64_t* argmax, int64_t o, int64_t i) {
  return (argmax == nullptr || argmax[o] == i) ? gy[o] : T(0);
}

}  // namespace sp
