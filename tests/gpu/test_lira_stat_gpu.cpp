// The fused LiRA statistic on CUDA against its CPU twin: f32 and f64 logits, both statistics, margins of
// +-200, NaN rows and bad labels, and a batch large enough for the grid-stride loop.
#include <cmath>
#include <limits>
#include <random>

#include "kernels/lira_stat.h"
#include "tests/gpu/gpu_test_util.h"

using namespace sp;
using namespace sp::test;
using lira::Statistic;

TEST(LiraStatGpu, MatchesCpu) {
  SP_REQUIRE_GPU();
  Stream& g = gpu_stream();
  for (int64_t N : {int64_t(1), int64_t(37), int64_t(40000)}) {
    const int64_t A = 18, C = 10;
    std::mt19937_64 rng(uint64_t(N));
    std::normal_distribution<double> nd(0, 3);
    std::vector<double> z(size_t(N * A * C));
    std::vector<int64_t> y(static_cast<size_t>(N));
    for (auto& v : z) v = nd(rng);
    for (int64_t n = 0; n < N; ++n) {
      y[size_t(n)] = int64_t(rng() % uint64_t(C));
      for (int64_t a = 0; a < A; ++a) z[size_t((n * A + a) * C + y[size_t(n)])] += (a % 2 ? 200.0 : -200.0) * (a % 3);
    }
    if (N > 1) {
      z[5] = std::numeric_limits<double>::quiet_NaN();
      z[C * A + 3] = std::numeric_limits<double>::infinity();
      y[size_t(N - 1)] = C;  // out of range: NaN on both backends
    }
    Tensor labels = Tensor::from_vector(y, {N});
    for (DType dt : {DType::f32, DType::f64}) {
      Tensor logits = Tensor::from_vector(z, {N, A, C}).to(dt);
      for (Statistic st : {Statistic::logit, Statistic::hinge}) {
        Tensor want = lira_stat(Stream::cpu(), logits, labels, st);
        Tensor got = lira_stat(g, logits.to(g.device(), g), labels.to(g.device(), g), st);
        EXPECT_EQ(got.dtype(), DType::f64);
        auto a = as_doubles(got, g), b = as_doubles(want);
        int bad = 0;
        for (size_t i = 0; i < b.size(); ++i) {
          bool ok = std::isnan(b[i]) ? std::isnan(a[i]) : std::abs(a[i] - b[i]) <= 1e-13 * std::max(1.0, std::abs(b[i]));
          if (!ok && bad++ < 5) ADD_FAILURE() << "row " << i << ": cuda " << a[i] << ", cpu " << b[i];
        }
        EXPECT_EQ(bad, 0) << "N " << N << " dtype " << dtype_name(dt);
      }
    }
  }
}
