// The fused LiRA statistic kernel (kernels/lira_stat.h) on the CPU: against a long-double reference and the
// textbook log(p_y / (1 - p_y)) for moderate margins, margins of +-200 where any softmax-based form
// saturates, f32 and f64 logits, NaN for bad labels and non-finite logits, strided input, bad arguments.
#include <cmath>
#include <limits>
#include <random>

#include "attacks/lira_statistic.h"
#include "kernels/lira_stat.h"
#include "tests/test_util.h"

using namespace sp;
using namespace sp::test;
using lira::Statistic;

namespace {

// z_y - log sum_{j != y} exp(z_j) (logit) or z_y - max_{j != y} z_j (hinge), in long double.
long double reference(const std::vector<double>& z, int64_t y, Statistic st) {
  long double m = -std::numeric_limits<long double>::infinity();
  for (size_t j = 0; j < z.size(); ++j)
    if (int64_t(j) != y) m = std::max(m, (long double)z[j]);
  if (st == Statistic::hinge) return z[size_t(y)] - m;
  long double s = 0;
  for (size_t j = 0; j < z.size(); ++j)
    if (int64_t(j) != y) s += std::exp((long double)z[j] - m);
  return (long double)z[size_t(y)] - m - std::log(s);
}

// Logits [N, A, C] around N(0, 2) with the label's logit shifted by margins spanning +-200, and labels.
struct Batch {
  Tensor logits, labels;
  std::vector<double> z;
  std::vector<int64_t> y;
  int64_t N, A, C;
};
Batch make_batch(int64_t N, int64_t A, int64_t C, uint64_t seed) {
  std::mt19937_64 g(seed);
  std::normal_distribution<double> nd(0, 2);
  Batch b{{}, {}, std::vector<double>(size_t(N * A * C)), std::vector<int64_t>(size_t(N)), N, A, C};
  const double margins[] = {-200, -120, -37, -5, 0, 5, 37, 120, 200};
  for (int64_t n = 0; n < N; ++n) {
    b.y[size_t(n)] = int64_t(g() % uint64_t(C));
    for (int64_t a = 0; a < A; ++a) {
      double* row = &b.z[size_t((n * A + a) * C)];
      for (int64_t j = 0; j < C; ++j) row[j] = nd(g);
      row[b.y[size_t(n)]] += margins[(n * A + a) % 9];
    }
  }
  b.logits = Tensor::from_vector(b.z, {N, A, C});
  b.labels = Tensor::from_vector(b.y, {N});
  return b;
}

}  // namespace

TEST(LiraStatKernel, MatchesLongDoubleReferenceAtAnyMargin) {
  Batch b = make_batch(23, 18, 10, 1);
  for (Statistic st : {Statistic::logit, Statistic::hinge}) {
    for (DType dt : {DType::f64, DType::f32}) {
      Tensor logits = b.logits.to(dt);
      std::vector<double> zr = as_doubles(logits);  // the values the kernel sees (rounded for f32)
      std::vector<double> phi = lira_stat(Stream::cpu(), logits, b.labels, st).to_vector<double>();
      ASSERT_EQ(phi.size(), size_t(b.N * b.A));
      for (int64_t r = 0; r < b.N * b.A; ++r) {
        std::vector<double> row(zr.begin() + r * b.C, zr.begin() + (r + 1) * b.C);
        const int64_t y = b.y[size_t(r / b.A)];
        const double want = double(reference(row, y, st));
        EXPECT_NEAR(phi[size_t(r)], want, 1e-14 * std::max(1.0, std::abs(want))) << "row " << r;
        // sp_lira's host path runs the same row function.
        EXPECT_EQ(phi[size_t(r)], lira::lira_statistic(row.data(), b.C, y, st));
      }
    }
  }
}

TEST(LiraStatKernel, EqualsLogOddsOfSoftmaxForModerateMargins) {
  // phi = log(p_y / (1 - p_y)) with p = softmax(z): the definition, computable naively in long double only
  // while 1 - p_y does not underflow (|margin| up to ~20 here).
  std::mt19937_64 g(7);
  std::normal_distribution<double> nd(0, 4);
  const int64_t N = 50, C = 7;
  std::vector<double> z(size_t(N * C));
  std::vector<int64_t> y(static_cast<size_t>(N));
  for (auto& v : z) v = nd(g);
  for (auto& v : y) v = int64_t(g() % uint64_t(C));
  std::vector<double> phi =
      lira_stat(Stream::cpu(), Tensor::from_vector(z, {N, 1, C}), Tensor::from_vector(y, {N}), Statistic::logit)
          .to_vector<double>();
  for (int64_t n = 0; n < N; ++n) {
    long double s = 0, py;
    for (int64_t j = 0; j < C; ++j) s += std::exp((long double)z[size_t(n * C + j)]);
    py = std::exp((long double)z[size_t(n * C + y[size_t(n)])]) / s;
    EXPECT_NEAR(phi[size_t(n)], double(std::log(py / (1 - py))), 1e-12) << "sample " << n;
  }
}

TEST(LiraStatKernel, ExtremeValuesAndBadRowsGiveExactOrNan) {
  const double inf = std::numeric_limits<double>::infinity(), nan = std::numeric_limits<double>::quiet_NaN();
  // rows: margin +200 over ties, margin -200, C = 2 closed form, inf logit, NaN logit, label 3 and -1.
  std::vector<double> z = {200, 0, 0, 0,  -200, 0, 0, 0,  1, 2, 3, 4,  0, inf, 0, 0,  0, 0, nan, 0,
                           1,   2, 3, 4,  1,    2, 3, 4};
  std::vector<int64_t> y = {0, 0, 2, 1, 0, 4, -1};
  Tensor phi =
      lira_stat(Stream::cpu(), Tensor::from_vector(z, {7, 1, 4}), Tensor::from_vector(y, {7}), Statistic::logit);
  auto v = phi.to_vector<double>();
  EXPECT_NEAR(v[0], 200 - std::log(3.0), 1e-13);
  EXPECT_NEAR(v[1], -200 - std::log(3.0), 1e-13);
  EXPECT_NEAR(v[2], 3 - (4 + std::log1p(std::exp(-2.0) + std::exp(-3.0))), 1e-14);
  for (int i = 3; i < 7; ++i) EXPECT_TRUE(std::isnan(v[size_t(i)])) << "row " << i;

  std::vector<float> two = {1.25f, -0.5f};  // C = 2: both statistics are z_y - z_other exactly
  Tensor t2 = Tensor::from_vector(two, {1, 1, 2});
  Tensor lab = Tensor::from_vector<int64_t>({1}, {1});
  EXPECT_EQ(lira_stat(Stream::cpu(), t2, lab, Statistic::logit).item({0, 0}), -1.75);
  EXPECT_EQ(lira_stat(Stream::cpu(), t2, lab, Statistic::hinge).item({0, 0}), -1.75);
}

TEST(LiraStatKernel, StridedLogitsAndLargeBatch) {
  Batch b = make_batch(300, 18, 10, 3);  // 5400 rows x 10: crosses the CPU kernel's parallel threshold
  Tensor want = lira_stat(Stream::cpu(), b.logits, b.labels, Statistic::logit);
  // The same logits stored view-major [A, N, C] and permuted to [N, A, C] (not contiguous).
  Tensor view_major = b.logits.permute({1, 0, 2}).contiguous();
  Tensor strided = view_major.permute({1, 0, 2});
  ASSERT_FALSE(strided.is_contiguous());
  EXPECT_TRUE(all_close(lira_stat(Stream::cpu(), strided, b.labels, Statistic::logit), want, 0, 0));
}

TEST(LiraStatKernel, BadInputThrows) {
  Stream& s = Stream::cpu();
  Tensor z = Tensor::zeros({4, 3, 5}, DType::f32), y = Tensor::zeros({4}, DType::i64);
  Tensor phi = Tensor::empty({4, 3}, DType::f64);
  EXPECT_NO_THROW(lira_stat(s, phi, z, y, Statistic::logit));
  EXPECT_THROW(lira_stat(s, phi, z, Tensor::zeros({4}, DType::i32), Statistic::logit), Error);      // label dtype
  EXPECT_THROW(lira_stat(s, phi, z, Tensor::zeros({5}, DType::i64), Statistic::logit), Error);      // label count
  EXPECT_THROW(lira_stat(s, Tensor::empty({4, 3}, DType::f32), z, y, Statistic::logit), Error);     // phi dtype
  EXPECT_THROW(lira_stat(s, Tensor::empty({4, 2}, DType::f64), z, y, Statistic::logit), Error);     // phi shape
  EXPECT_THROW(lira_stat(s, phi, Tensor::zeros({4, 3, 1}, DType::f32), y, Statistic::logit), Error);  // C = 1
  EXPECT_THROW(lira_stat(s, phi, Tensor::zeros({4, 3, 5}, DType::i64), y, Statistic::logit), Error);  // int logits
  EXPECT_THROW(lira_stat(s, Tensor::zeros({12}, DType::f32), y, Statistic::logit), Error);          // rank
  EXPECT_THROW(lira_stat(s, phi, Tensor::zeros({4, 5, 3}, DType::f32).transpose(1, 2), y, Statistic::logit),
               Error);  // the in-place form needs contiguous logits
}
