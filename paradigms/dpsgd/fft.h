// Radix-2 FFT for the PRV accountant's self-composition: a plan for one power-of-two length n with a complex
// transform of length n/2 and the real-input transforms built on it (rfft: n reals -> n/2 + 1 bins; irfft: the
// inverse, scaled by 1/n). Twiddles are computed directly with cos/sin, not by recurrence, so round-off does
// not grow with n. Tested by tests/test_accountant_math.cpp against a naive O(n^2) DFT and by round trips.
#pragma once
#include <complex>
#include <cstddef>
#include <vector>

namespace sp::dpsgd {

class FftPlan {
 public:
  explicit FftPlan(size_t n);  // n: a power of two >= 4
  size_t size() const { return n_; }

  // X_k = sum_j x_j exp(-2 pi i jk/n), k = 0..n/2 (the rest follow from X_{n-k} = conj(X_k)).
  std::vector<std::complex<double>> rfft(const std::vector<double>& x) const;
  // x_j = (1/n) sum_k X_k exp(2 pi i jk/n) from the n/2 + 1 bins of a real sequence's spectrum.
  std::vector<double> irfft(const std::vector<std::complex<double>>& spectrum) const;

  // In-place complex transform of length n/2 (forward: exp(-2 pi i jk/m); inverse: exp(+...) / m).
  void complex_half(std::vector<std::complex<double>>& a, bool inverse) const;

 private:
  size_t n_;
  std::vector<std::complex<double>> twiddle_;  // exp(-2 pi i k/n), k = 0..n/2
};

}  // namespace sp::dpsgd
