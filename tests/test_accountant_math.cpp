// Tests of the accountants' numerical building blocks (paradigms/dpsgd/special_math.h, fft.h): log erfc and
// log Phi against long-double erfcl, log-space sums against plain arithmetic, the generalised binomial against a
// direct product, Gauss-Legendre exactness on polynomials, and the FFT against a naive O(n^2) DFT.
#include <gtest/gtest.h>

#include <cmath>
#include <complex>
#include <random>
#include <vector>

#include "kernels/error.h"
#include "paradigms/dpsgd/fft.h"
#include "paradigms/dpsgd/special_math.h"

namespace sp::dpsgd {
namespace {

TEST(AccountantMath, LogErfcMatchesLongDouble) {
  // erfcl stays representable up to x ~ 106; cover the std::erfc branch, the switch at 20 and the asymptotic
  // series, and negative x where erfc is near 2.
  for (double x = -30.0; x <= 100.0; x += 0.37) {
    const long double ref = std::log(std::erfc((long double)x));
    EXPECT_NEAR(log_erfc(x), double(ref), 1e-14 * std::max(1.0, std::fabs(double(ref)))) << "x=" << x;
  }
  for (double x : {19.999, 20.0, 20.001, 26.6, 40.0}) {
    const long double ref = std::log(std::erfc((long double)x));
    EXPECT_NEAR(log_erfc(x), double(ref), 1e-14 * std::fabs(double(ref))) << "x=" << x;
  }
  // Far beyond long double: the leading asymptotic behaviour -x^2 - log(x sqrt(pi)).
  const double x = 1e4;
  EXPECT_NEAR(log_erfc(x) / (-x * x - std::log(x * std::sqrt(M_PI))), 1.0, 1e-15);
  EXPECT_TRUE(std::isfinite(log_erfc(1e100 / 1e90)));
}

TEST(AccountantMath, LogNdtrAndNormalTails) {
  for (double x = -60.0; x <= 12.0; x += 0.53) {
    // For x > 0, log Phi = log1p(-Q(x)) is tiny: the reference takes the same route in long double.
    const long double xl = x, r2 = std::sqrt(2.0L);
    const long double ref = x > 0 ? std::log1p(-0.5L * std::erfc(xl / r2)) : std::log(0.5L * std::erfc(-xl / r2));
    // (glibc's erfc is good to ~1e-13 relative far in the tail, which bounds the agreement there.)
    EXPECT_NEAR(log_ndtr(x), double(ref), 5e-13 * std::fabs(double(ref))) << "x=" << x;
    const NormalTails t = normal_tails(x);
    EXPECT_NEAR(t.lower, double(0.5L * std::erfc(-(long double)x / std::sqrt(2.0L))), 1e-16 + 1e-15 * t.lower);
    EXPECT_NEAR(t.upper, double(0.5L * std::erfc((long double)x / std::sqrt(2.0L))), 1e-16 + 1e-15 * t.upper);
  }
  // Interval probabilities keep relative precision in the far tail, where 1 - Phi differences would vanish.
  const NormalTails a = normal_tails(30.0), b = normal_tails(30.5);
  const long double ref = 0.5L * (std::erfc(30.0L / std::sqrt(2.0L)) - std::erfc(30.5L / std::sqrt(2.0L)));
  EXPECT_NEAR(normal_interval(a, 30.0, b, 30.5) / double(ref), 1.0, 1e-12);
  const NormalTails c = normal_tails(-0.5), d = normal_tails(0.25);
  EXPECT_NEAR(normal_interval(c, -0.5, d, 0.25), double(0.5L * (std::erfc(-0.25L / std::sqrt(2.0L)) -
                                                                std::erfc(0.5L / std::sqrt(2.0L)))),
              1e-15);
}

TEST(AccountantMath, LogSpaceSums) {
  EXPECT_NEAR(log_add(std::log(2.0), std::log(3.0)), std::log(5.0), 1e-15);
  EXPECT_EQ(log_add(kNegInf, 1.5), 1.5);
  EXPECT_EQ(log_add(kNegInf, kNegInf), kNegInf);
  EXPECT_NEAR(log_add(1000.0, 1000.0), 1000.0 + std::log(2.0), 1e-12);  // no overflow
  EXPECT_NEAR(log1p_exp(-40.0), std::exp(-40.0), 1e-30);
  EXPECT_NEAR(log1p_exp(800.0), 800.0, 1e-12);
  EXPECT_NEAR(log_expm1(1e-10), std::log(1e-10), 1e-9);
  EXPECT_NEAR(log_expm1(800.0), 800.0, 1e-12);

  SignedLogSum s;
  s.add(std::log(5.0), false);
  s.add(std::log(3.0), true);
  s.add(std::log(0.5), false);
  EXPECT_NEAR(s.log_value(), std::log(2.5), 1e-15);
  EXPECT_NEAR(s.log_abs_value(), std::log(2.5), 1e-15);
  s.add(std::log(4.0), true);
  EXPECT_TRUE(std::isnan(s.log_value()));  // the total went negative
  EXPECT_NEAR(s.log_abs_value(), std::log(1.5), 1e-15);
}

TEST(AccountantMath, GeneralisedBinomial) {
  for (double alpha : {0.5, 1.1, 2.5, 7.3, 10.9, 10.0, 4.0}) {
    long double c = 1.0L;  // C(alpha, 0), then the product recurrence
    for (long i = 0; i <= 40; ++i) {
      const LogBinom b = log_binom(alpha, i);
      if (c == 0.0L) {
        EXPECT_EQ(b.log_abs, kNegInf) << alpha << " " << i;
      } else {
        EXPECT_NEAR(b.log_abs, double(std::log(std::fabs(c))), 1e-11 * std::max(1.0, double(std::fabs(std::log(std::fabs(c))))))
            << "alpha=" << alpha << " i=" << i;
        EXPECT_EQ(b.negative, c < 0) << "alpha=" << alpha << " i=" << i;
      }
      c *= ((long double)alpha - i) / (i + 1);
    }
  }
}

std::vector<std::complex<long double>> naive_dft(const std::vector<double>& x) {
  const size_t n = x.size();
  std::vector<std::complex<long double>> out(n);
  for (size_t k = 0; k < n; ++k)
    for (size_t j = 0; j < n; ++j) {
      const long double a = -2.0L * std::acos(-1.0L) * (long double)((j * k) % n) / (long double)n;
      out[k] += (long double)x[j] * std::complex<long double>(std::cos(a), std::sin(a));
    }
  return out;
}

TEST(AccountantMath, RealFftMatchesNaiveDft) {
  std::mt19937_64 gen(7);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  for (size_t n : {4u, 8u, 12u, 64u, 90u, 256u}) {  // FFTW: any even length, not only powers of two
    std::vector<double> x(n);
    for (auto& v : x) v = u(gen);
    const FftPlan plan(n);
    const auto fast = plan.rfft(x);
    const auto ref = naive_dft(x);
    ASSERT_EQ(fast.size(), n / 2 + 1);
    for (size_t k = 0; k <= n / 2; ++k) {
      EXPECT_NEAR(fast[k].real(), double(ref[k].real()), 1e-12) << "n=" << n << " k=" << k;
      EXPECT_NEAR(fast[k].imag(), double(ref[k].imag()), 1e-12) << "n=" << n << " k=" << k;
    }
    const auto back = plan.irfft(fast);
    for (size_t j = 0; j < n; ++j) EXPECT_NEAR(back[j], x[j], 1e-14) << "n=" << n;
  }
}

TEST(AccountantMath, FftConvolutionIsCyclic) {
  // Spectrum products are cyclic convolutions: check against a direct O(n^2) sum on a long transform.
  const size_t n = size_t(1) << 14;
  std::vector<double> a(n, 0.0), b(n, 0.0);
  std::mt19937_64 gen(11);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  for (size_t i = 0; i < 40; ++i) a[(i * 977) % n] = u(gen);
  for (size_t i = 0; i < 40; ++i) b[(n - 1 - i * 131) % n] = u(gen);
  const FftPlan plan(n);
  auto fa = plan.rfft(a);
  const auto fb = plan.rfft(b);
  for (size_t k = 0; k < fa.size(); ++k) fa[k] *= fb[k];
  const auto conv = plan.irfft(fa);
  std::vector<double> ref(n, 0.0);
  for (size_t i = 0; i < n; ++i)
    if (a[i] != 0)
      for (size_t j = 0; j < n; ++j)
        if (b[j] != 0) ref[(i + j) % n] += a[i] * b[j];
  for (size_t k = 0; k < n; ++k) ASSERT_NEAR(conv[k], ref[k], 1e-12) << "k=" << k;
  EXPECT_THROW(FftPlan(13), sp::Error);
  EXPECT_THROW(FftPlan(2), sp::Error);
  EXPECT_THROW(plan.rfft(std::vector<double>(n - 2)), sp::Error);
  EXPECT_THROW(plan.irfft(std::vector<std::complex<double>>(n / 2)), sp::Error);
}

}  // namespace
}  // namespace sp::dpsgd
