// Real-input FFTs for the PRV accountant's self-composition, over FFTW3 (double precision): a plan for one
// even length n with the forward transform (rfft: n reals -> n/2 + 1 bins) and its inverse (irfft, scaled by
// 1/n so that irfft(rfft(x)) = x). Plans use FFTW_ESTIMATE, so they are deterministic (no timing-dependent
// algorithm choice) and cheap to make. Tested by tests/test_accountant_math.cpp against a naive O(n^2) DFT,
// round trips and a direct cyclic convolution.
#pragma once
#include <complex>
#include <cstddef>
#include <vector>

namespace sp::dpsgd {

class FftPlan {
 public:
  explicit FftPlan(size_t n);  // n: even, >= 4
  ~FftPlan();
  FftPlan(const FftPlan&) = delete;
  FftPlan& operator=(const FftPlan&) = delete;
  size_t size() const { return n_; }

  // X_k = sum_j x_j exp(-2 pi i jk/n), k = 0..n/2 (the rest follow from X_{n-k} = conj(X_k)).
  std::vector<std::complex<double>> rfft(const std::vector<double>& x) const;
  // x_j = (1/n) sum_k X_k exp(2 pi i jk/n) from the n/2 + 1 bins of a real sequence's spectrum.
  std::vector<double> irfft(const std::vector<std::complex<double>>& spectrum) const;

 private:
  size_t n_;
  void* forward_ = nullptr;   // fftw_plan (kept out of this header)
  void* backward_ = nullptr;
};

}  // namespace sp::dpsgd
