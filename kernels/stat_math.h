// Per-element statistics shared by the CPU and CUDA kernels of the norm and loss families (SP_HD, so the
// CPU tests run the arithmetic the GPU runs): exp/log/sqrt overloads that stay in float for f32, Welford
// accumulators with Chan's merge (mean and variance without the cancellation of E[x^2] - E[x]^2), and the
// online max/sum pair behind a numerically stable log-sum-exp. Tested in tests/test_stat_math.cpp.
#pragma once
#include <cmath>
#include <limits>

#include "kernels/hd.h"

namespace sp::stat {

SP_HD float exp_(float x) { return expf(x); }
SP_HD double exp_(double x) { return exp(x); }
SP_HD float log_(float x) { return logf(x); }
SP_HD double log_(double x) { return log(x); }
SP_HD float sqrt_(float x) { return sqrtf(x); }
SP_HD double sqrt_(double x) { return sqrt(x); }
template <class T>
SP_HD T neg_inf() {
  return -std::numeric_limits<T>::infinity();
}

// The GradSink rule: out = v + beta * out, never reading out when beta is 0 (it may be uninitialised).
template <class T>
SP_HD void store_grad(T& out, T v, T beta) {
  out = beta == T(0) ? v : v + beta * out;
}

// Count, mean and sum of squared deviations of the values pushed so far.
template <class T>
struct Welford {
  T n = 0, mean = 0, m2 = 0;
  SP_HD void push(T x) {
    n += T(1);
    T d = x - mean;
    mean += d / n;
    m2 += d * (x - mean);
  }
  // Chan et al.: combine two disjoint sets.
  SP_HD void merge(T on, T omean, T om2) {
    if (on == T(0)) return;
    if (n == T(0)) {
      n = on;
      mean = omean;
      m2 = om2;
      return;
    }
    T tot = n + on, d = omean - mean;
    mean += d * (on / tot);
    m2 += om2 + d * d * (n * (on / tot));
    n = tot;
  }
  SP_HD void merge(const Welford& o) { merge(o.n, o.mean, o.m2); }
  SP_HD T var_biased() const { return m2 / n; }
  SP_HD T var_unbiased() const { return m2 / (n - T(1)); }
};

// Running maximum m and sum s of exp(x - m): log-sum-exp = m + log(s) without overflow. -inf entries
// contribute exp(-inf) = 0 and are skipped so that they never produce inf - inf.
template <class T>
struct MaxSum {
  T m = neg_inf<T>(), s = 0;
  SP_HD void push(T x) {
    if (x == neg_inf<T>()) return;
    if (x > m) {
      s = s * exp_(m - x) + T(1);
      m = x;
    } else {
      s += exp_(x - m);
    }
  }
  SP_HD void merge(T om, T os) {
    if (os == T(0)) return;
    if (s == T(0)) {
      m = om;
      s = os;
    } else if (om > m) {
      s = s * exp_(m - om) + os;
      m = om;
    } else {
      s += os * exp_(om - m);
    }
  }
  SP_HD T lse() const { return m + log_(s); }
};

}  // namespace sp::stat
