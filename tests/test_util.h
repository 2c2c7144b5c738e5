// Shared test helpers: seeded random tensors, closeness checks, error-message checks, the central-difference
// gradient checker (f64, CPU), and the coverage registries that tests/test_op_coverage.cpp and
// tests/gpu/test_op_coverage_gpu.cpp read.
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "kernels/tensor.h"
#include "nn/ops_elementwise.h"
#include "nn/ops_reduce.h"
#include "nn/tape.h"

namespace sp::test {

// Ops whose gradient a test checks against finite differences (SP_GRAD_TESTED) and ops whose CPU and
// CUDA results a GPU test compares (SP_BACKEND_TESTED).
inline std::set<std::string>& grad_tested_ops() {
  static std::set<std::string> s;
  return s;
}
// Ops whose differentiable backward a test checks (SP_GRAD2_TESTED, check_second_order).
inline std::set<std::string>& grad2_tested_ops() {
  static std::set<std::string> s;
  return s;
}
inline std::set<std::string>& backend_tested_ops() {
  static std::set<std::string> s;
  return s;
}
// Ops whose double backward a GPU test compares with the CPU (SP_BACKEND2_TESTED, compare_double_backward).
inline std::set<std::string>& backend2_tested_ops() {
  static std::set<std::string> s;
  return s;
}
struct CoverageMark {
  CoverageMark(std::set<std::string>& s, const char* name) { s.insert(name); }
};

inline Tensor randn(const Shape& shape, DType dt, uint64_t seed, double scale = 1.0, double shift = 0.0) {
  std::mt19937_64 g(seed);
  std::normal_distribution<double> d(0.0, 1.0);
  std::vector<double> v(size_t(shape.numel()));
  for (auto& x : v) x = shift + scale * d(g);
  return Tensor::from_vector(v, shape).to(dt);
}
inline Tensor rand_uniform(const Shape& shape, DType dt, uint64_t seed, double lo, double hi) {
  std::mt19937_64 g(seed);
  std::uniform_real_distribution<double> d(lo, hi);
  std::vector<double> v(size_t(shape.numel()));
  for (auto& x : v) x = d(g);
  return Tensor::from_vector(v, shape).to(dt);
}

inline std::vector<double> as_doubles(const Tensor& t, Stream& s = Stream::cpu()) {
  return t.to(Device::cpu(), s).to(DType::f64).contiguous().to_vector<double>();
}

inline double max_abs(const Tensor& t) {
  double m = 0;
  for (double v : as_doubles(t)) m = std::max(m, std::abs(v));
  return m;
}

// |a - b| <= atol + rtol |b| elementwise (b is the reference); reports the first few failures.
inline ::testing::AssertionResult all_close(const Tensor& a, const Tensor& b, double rtol, double atol,
                                           Stream& s = Stream::cpu()) {
  if (a.shape() != b.shape())
    return ::testing::AssertionFailure() << "shapes differ: " << a.str() << " vs " << b.str();
  auto x = as_doubles(a, s), y = as_doubles(b, s);
  int bad = 0;
  std::ostringstream os;
  for (size_t i = 0; i < x.size(); ++i) {
    bool ok = std::abs(x[i] - y[i]) <= atol + rtol * std::abs(y[i]) && !std::isnan(x[i]) == !std::isnan(y[i]);
    if (!ok && bad++ < 5) os << "\n  [" << i << "] got " << x[i] << " want " << y[i];
  }
  if (bad) return ::testing::AssertionFailure() << bad << " of " << x.size() << " elements differ:" << os.str();
  return ::testing::AssertionSuccess();
}

// The message of the sp::Error that f throws, or "no error" when it throws none.
inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

// f must throw an sp::Error whose message contains `needle`.
inline void expect_error_mentioning(const std::function<void()>& f, const std::string& needle) {
  try {
    f();
    ADD_FAILURE() << "expected sp::Error mentioning '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

// <a, b> and a + b on the tape (helpers of check_second_order).
inline Var ag_dot(Tape& t, Var a, Var b) { return ag::sum(t, ag::mul(t, a, b)); }
inline Var ag_add(Tape& t, Var a, Var b) { return ag::add(t, a, b); }

struct GradCheckOptions {
  double eps = 1e-6;
  double rtol = 1e-6;  // relative to max(1, |numeric|), as Caffe's checker
  int max_checks_per_input = 64;  // elements probed per input (all when the input is smaller)
  uint64_t seed = 1234;
};

// Compares g, the analytic derivative of objective w.r.t. input i, with central differences at up to
// opt.max_checks_per_input elements. Elements where the one-sided differences disagree are treated as kinks
// (ReLU at 0, max-pool ties) and skipped; at most half may be skipped.
inline void expect_central_differences(const std::vector<Tensor>& inputs, size_t i, const std::vector<double>& g,
                                       const std::function<double(const std::vector<Tensor>&)>& objective,
                                       const GradCheckOptions& opt, std::mt19937_64& rng, const char* what) {
  const int64_t n = inputs[i].numel();
  std::vector<int64_t> probe;
  if (n <= opt.max_checks_per_input) {
    for (int64_t k = 0; k < n; ++k) probe.push_back(k);
  } else {
    for (int k = 0; k < opt.max_checks_per_input; ++k) probe.push_back(int64_t(rng() % uint64_t(n)));
  }
  int skipped = 0;
  for (int64_t k : probe) {
    std::vector<Tensor> xs = inputs;
    xs[i] = inputs[i].contiguous().clone();
    double* p = xs[i].data<double>();
    const double x0 = p[k];
    const double f0 = objective(xs);
    p[k] = x0 + opt.eps;
    const double fp = objective(xs);
    p[k] = x0 - opt.eps;
    const double fm = objective(xs);
    const double right = (fp - f0) / opt.eps, left = (f0 - fm) / opt.eps, num = (fp - fm) / (2 * opt.eps);
    const double scale = std::max(1.0, std::abs(num));
    if (std::abs(right - left) > 1e-3 * scale) {  // a kink: derivative undefined here
      ++skipped;
      continue;
    }
    EXPECT_NEAR(g[size_t(k)], num, opt.rtol * scale) << what << "input " << i << " element " << k;
  }
  EXPECT_LE(skipped * 2, int(probe.size())) << what << "too many kinks skipped for input " << i;
}

// Builds f from leaf inputs, then compares the tape gradient of sum(R * f) (R random) with central
// differences for each input marked in `wrt`. Elements where the one-sided differences disagree are
// treated as kinks (ReLU at 0, max-pool ties) and skipped; at most half may be skipped.
inline void check_gradients(const std::vector<Tensor>& inputs, const std::vector<bool>& wrt,
                            const std::function<Var(Tape&, const std::vector<Var>&)>& f,
                            GradCheckOptions opt = {}) {
  Stream& s = Stream::cpu();
  auto eval = [&](const std::vector<Tensor>& xs, Tape& t, std::vector<Var>& vars) {
    vars.clear();
    for (size_t i = 0; i < xs.size(); ++i) vars.push_back(t.leaf(xs[i], wrt[i]));
    return f(t, vars);
  };
  Tape tape(s);
  std::vector<Var> vars;
  Var out = eval(inputs, tape, vars);
  Tensor o = tape.value(out);
  ASSERT_EQ(o.dtype(), DType::f64) << "gradient checks run in f64";
  Tensor R = randn(o.shape(), DType::f64, opt.seed);
  auto Rv = R.to_vector<double>();
  std::vector<Var> wv;
  for (size_t i = 0; i < inputs.size(); ++i)
    if (wrt[i]) wv.push_back(vars[i]);
  std::vector<Tensor> grads = tape.grad(out, wv, &R);

  auto objective = [&](const std::vector<Tensor>& xs) {
    Tape t(s);
    std::vector<Var> vs;
    auto y = t.value(eval(xs, t, vs)).contiguous().to_vector<double>();
    double acc = 0;
    for (size_t k = 0; k < y.size(); ++k) acc += Rv[k] * y[k];
    return acc;
  };
  std::mt19937_64 rng(opt.seed + 1);
  size_t gi = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!wrt[i]) continue;
    auto g = grads[gi++].contiguous().to_vector<double>();
    ASSERT_EQ(int64_t(g.size()), inputs[i].numel());
    expect_central_differences(inputs, i, g, objective, opt, rng, "");
  }
}

// The second-order check of f at `inputs`: with random R (shape of f) and V_i (shape of input i),
// h(x) = sum_i <d<R, f>/dx_i, V_i> is built with Tape::grad_graph (so through every op's differentiable
// backward) and its tape gradient dh/dx_j is compared with central differences of h, where h itself is
// evaluated with the first-order Tape::grad (checked separately by check_gradients). Also checks that
// grad_graph's values equal grad's. Kinks are skipped as in check_gradients. All inputs marked in `wrt`
// take part (mixed derivatives included).
inline void check_second_order(const std::vector<Tensor>& inputs, const std::vector<bool>& wrt,
                               const std::function<Var(Tape&, const std::vector<Var>&)>& f,
                               GradCheckOptions opt = {}) {
  Stream& s = Stream::cpu();
  std::vector<size_t> idx;
  for (size_t i = 0; i < inputs.size(); ++i)
    if (wrt[i]) idx.push_back(i);
  auto leaves = [&](Tape& t, const std::vector<Tensor>& xs) {
    std::vector<Var> vs;
    for (size_t i = 0; i < xs.size(); ++i) vs.push_back(t.leaf(xs[i], wrt[i]));
    return vs;
  };
  std::vector<Tensor> V;
  Tensor R;
  {
    Tape t(s);
    Tensor o = t.value(f(t, leaves(t, inputs)));
    ASSERT_EQ(o.dtype(), DType::f64) << "gradient checks run in f64";
    R = randn(o.shape(), DType::f64, opt.seed);
    for (size_t k = 0; k < idx.size(); ++k) V.push_back(randn(inputs[idx[k]].shape(), DType::f64, opt.seed + 7 + k));
  }
  auto dot = [](const Tensor& a, const Tensor& b) {
    auto x = as_doubles(a), y = as_doubles(b);
    double acc = 0;
    for (size_t k = 0; k < x.size(); ++k) acc += x[k] * y[k];
    return acc;
  };
  // h by the first-order sweep.
  auto h_first = [&](const std::vector<Tensor>& xs) {
    Tape t(s);
    std::vector<Var> vs = leaves(t, xs);
    Var out = f(t, vs);
    std::vector<Var> wv;
    for (size_t i : idx) wv.push_back(vs[i]);
    std::vector<Tensor> g = t.grad(out, wv, &R);
    double acc = 0;
    for (size_t k = 0; k < idx.size(); ++k) acc += dot(g[k], V[k]);
    return acc;
  };
  // h by the recorded sweep, and its gradient.
  Tape t(s);
  std::vector<Var> vs = leaves(t, inputs);
  Var out = f(t, vs);
  std::vector<Var> wv;
  for (size_t i : idx) wv.push_back(vs[i]);
  std::vector<Tensor> g1 = t.grad(out, wv, &R);
  std::vector<Var> g = t.grad_graph(out, wv, t.leaf(R));
  ASSERT_EQ(g.size(), idx.size());
  Var h;
  for (size_t k = 0; k < idx.size(); ++k) {
    EXPECT_TRUE(all_close(t.value(g[k]), g1[k], 1e-10, 1e-12)) << "grad_graph differs from grad, input " << idx[k];
    Var term = ag_dot(t, g[k], t.leaf(V[k]));
    h = h.valid() ? ag_add(t, h, term) : term;
  }
  // When h does not depend on the inputs on the tape, every second derivative must be zero numerically too.
  const bool constant = !t.requires_grad(h);
  std::vector<Tensor> hg = constant ? std::vector<Tensor>() : t.grad(h, wv);
  std::mt19937_64 rng(opt.seed + 1);
  for (size_t k = 0; k < idx.size(); ++k)
    expect_central_differences(
        inputs, idx[k],
        constant ? std::vector<double>(size_t(inputs[idx[k]].numel()), 0.0) : hg[k].contiguous().to_vector<double>(),
        h_first, opt, rng, "second order: ");
}

}  // namespace sp::test

#define SP_GRAD2_TESTED(name) \
  static ::sp::test::CoverageMark SP_GRAD2_MARK_##name(::sp::test::grad2_tested_ops(), #name)
#define SP_GRAD_TESTED(name) \
  static ::sp::test::CoverageMark SP_GRAD_MARK_##name(::sp::test::grad_tested_ops(), #name)
#define SP_BACKEND_TESTED(name) \
  static ::sp::test::CoverageMark SP_BACKEND_MARK_##name(::sp::test::backend_tested_ops(), #name)
