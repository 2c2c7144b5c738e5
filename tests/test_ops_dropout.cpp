// dropout on the CPU: the mask against crng::Stream32 word by word (element i is the stream's i-th word),
// mask statistics (the fraction zeroed within 5 sigma of p for 2^20 elements, kept values exactly
// 1 / (1 - p)), reproducibility (same (key, stream_id) the same mask, another stream id or key another;
// a short tensor's mask is the prefix of a long one's), y = x * m, p = 0 recording nothing, f64 first- and
// second-order gradient checks, and bad input.
#include <cmath>

#include "kernels/counter_rng.h"
#include "kernels/dropout.h"
#include "nn/ops_dropout.h"
#include "tests/test_util.h"

using namespace sp;
using namespace sp::ag;
using namespace sp::test;

SP_GRAD_TESTED(dropout);
SP_GRAD2_TESTED(dropout);

namespace {

Tensor mask_of(const Shape& shape, DType dt, double p, uint64_t key, uint64_t sid) {
  Tensor m = Tensor::empty(shape, dt);
  dropout_mask(Stream::cpu(), m, p, key, sid);
  return m;
}

}  // namespace

TEST(OpsDropout, MaskMatchesCounterStream) {
  const double p = 0.3;
  Tensor m = mask_of({1003}, DType::f64, p, 0x1234abcdull, 77);
  crng::Stream32 rng(0x1234abcdull, 77);
  const double keep = 1.0 / (1.0 - p);
  std::vector<double> got = m.to_vector<double>();
  for (size_t i = 0; i < got.size(); ++i) {
    const double u = double(rng.next_u32()) / 4294967296.0;
    ASSERT_EQ(got[i], u >= p ? keep : 0.0) << i;
  }
}

TEST(OpsDropout, MaskStatistics) {
  const int64_t n = int64_t(1) << 20;
  for (double p : {0.1, 0.5, 0.9}) {
    for (DType dt : {DType::f32, DType::f64}) {
      Tensor m = mask_of({n}, dt, p, 99, 3);
      const double keep = dt == DType::f32 ? double(float(1.0 / (1.0 - p))) : 1.0 / (1.0 - p);
      int64_t zeros = 0, others = 0;
      for (double v : as_doubles(m)) {
        if (v == 0.0)
          ++zeros;
        else if (v != keep)
          ++others;
      }
      EXPECT_EQ(others, 0) << "kept values must be exactly 1 / (1 - p), p = " << p;
      const double sigma = std::sqrt(p * (1 - p) / double(n));
      EXPECT_NEAR(double(zeros) / double(n), p, 5 * sigma) << "p = " << p;
    }
  }
}

TEST(OpsDropout, SameStreamSameMask) {
  Tensor a = mask_of({64, 33}, DType::f32, 0.5, 7, 11), b = mask_of({64, 33}, DType::f32, 0.5, 7, 11);
  EXPECT_EQ(a.to_vector<float>(), b.to_vector<float>());
  auto differing = [](const Tensor& x, const Tensor& y) {
    auto u = x.to_vector<float>(), v = y.to_vector<float>();
    int64_t d = 0;
    for (size_t k = 0; k < u.size(); ++k) d += u[k] != v[k];
    return double(d) / double(u.size());
  };
  // Independent masks at p = 0.5 differ in about half the elements.
  EXPECT_NEAR(differing(a, mask_of({64, 33}, DType::f32, 0.5, 7, 12)), 0.5, 0.05);
  EXPECT_NEAR(differing(a, mask_of({64, 33}, DType::f32, 0.5, 8, 11)), 0.5, 0.05);
  EXPECT_NEAR(differing(a, mask_of({64, 33}, DType::f32, 0.5, 7, uint64_t(11) << 32)), 0.5, 0.05);
  // Element i depends on i alone: a 7-element mask is the start of a 2112-element one, whatever the shape.
  auto head = a.to_vector<float>();
  auto small = mask_of({7}, DType::f32, 0.5, 7, 11).to_vector<float>();
  for (size_t k = 0; k < small.size(); ++k) EXPECT_EQ(small[k], head[k]) << k;
  // Same values in both dtypes.
  auto f64 = mask_of({64, 33}, DType::f64, 0.5, 7, 11).to_vector<double>();
  for (size_t k = 0; k < f64.size(); ++k) EXPECT_EQ(double(head[k]), f64[k]) << k;
}

TEST(OpsDropout, ForwardIsInputTimesMask) {
  for (DType dt : {DType::f32, DType::f64}) {
    Tensor x = randn({5, 6, 7}, dt, 1);
    Tape t(Stream::cpu());
    Var y = dropout(t, t.leaf(x, true), 0.25, 42, 5);
    EXPECT_STREQ(t.producer(y), "dropout");
    auto xv = as_doubles(x), yv = as_doubles(t.value(y)), mv = as_doubles(mask_of({5, 6, 7}, dt, 0.25, 42, 5));
    for (size_t k = 0; k < xv.size(); ++k) {
      const double want = xv[k] * mv[k];  // exact in double for f32 operands; f32 rounds it once
      EXPECT_EQ(yv[k], dt == DType::f32 ? double(float(want)) : want) << k;
    }
  }
  // A strided input: the mask follows the logical (row-major) element order.
  Tensor x = randn({4, 6}, DType::f64, 2).permute({1, 0});
  Tape t(Stream::cpu());
  auto yv = as_doubles(t.value(dropout(t, t.leaf(x), 0.5, 1, 2)));
  auto xv = as_doubles(x), mv = as_doubles(mask_of({6, 4}, DType::f64, 0.5, 1, 2));
  for (size_t k = 0; k < xv.size(); ++k) EXPECT_EQ(yv[k], xv[k] * mv[k]) << k;
}

TEST(OpsDropout, ZeroProbabilityIsIdentity) {
  Tape t(Stream::cpu());
  Var x = t.leaf(randn({3, 4}, DType::f32, 3), true);
  const int nodes = t.num_nodes();
  Var y = dropout(t, x, 0.0, 1, 2);
  EXPECT_EQ(y.id, x.id);
  EXPECT_EQ(t.num_nodes(), nodes);
}

TEST(OpsDropout, Gradient) {
  for (double p : {0.2, 0.6}) {
    check_gradients({randn({4, 9}, DType::f64, 4)}, {true},
                    [p](Tape& t, const std::vector<Var>& v) { return dropout(t, v[0], p, 123, 9); });
    // x reaches the output along two paths (the dropout backward accumulates with beta = 1).
    check_gradients({randn({2, 3, 5}, DType::f64, 5)}, {true}, [p](Tape& t, const std::vector<Var>& v) {
      return mul(t, dropout(t, v[0], p, 123, 10), v[0]);
    });
  }
}

TEST(OpsDropout, SecondOrder) {
  check_second_order({randn({4, 9}, DType::f64, 6)}, {true},
                     [](Tape& t, const std::vector<Var>& v) { return dropout(t, v[0], 0.3, 5, 1); });
  check_second_order({randn({2, 3, 5}, DType::f64, 7)}, {true}, [](Tape& t, const std::vector<Var>& v) {
    return mul(t, dropout(t, v[0], 0.5, 5, 2), v[0]);
  });
}

TEST(OpsDropout, BadInput) {
  Tape t(Stream::cpu());
  Var x = t.leaf(Tensor::zeros({2, 3}, DType::f32));
  for (double p : {-0.1, 1.0, 1.5, double(NAN)})
    expect_error_mentioning([&] { dropout(t, x, p, 1, 2); }, "dropout: probability");
  expect_error_mentioning([&] { dropout(t, t.leaf(Tensor::zeros({2, 3}, DType::i32)), 0.5, 1, 2); }, "dropout");
  expect_error_mentioning([&] { dropout_mask(Stream::cpu(), Tensor::zeros({2}, DType::f64), 1.0, 1, 2); },
                          "dropout");
  expect_error_mentioning(
      [&] { dropout_mask(Stream::cpu(), Tensor::zeros({4, 2}, DType::f64).permute({1, 0}), 0.5, 1, 2); },
      "contiguous");
}
