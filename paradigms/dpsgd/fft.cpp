// FFTW3-backed real FFTs (see fft.h). FFTW's planner is not thread-safe, so plan creation and destruction
// hold one process-wide mutex; executing a plan on other arrays (fftw_execute_dft_r2c / _c2r with buffers
// from fftw_malloc, so their alignment matches the planning buffers) is thread-safe, so rfft and irfft
// need no lock and a const plan may be shared.
#include "paradigms/dpsgd/fft.h"

#include <fftw3.h>

#include <cstring>
#include <memory>
#include <mutex>

#include "kernels/error.h"

namespace sp::dpsgd {
namespace {

std::mutex& planner_mutex() {
  static std::mutex m;
  return m;
}

struct FftwFree {
  void operator()(void* p) const { fftw_free(p); }
};
template <class T>
using FftwBuffer = std::unique_ptr<T[], FftwFree>;

template <class T>
FftwBuffer<T> fftw_buffer(size_t count) {
  FftwBuffer<T> p(static_cast<T*>(fftw_malloc(sizeof(T) * count)));
  SP_CHECK(p, "fft: fftw_malloc of ", sizeof(T) * count, " bytes failed");
  return p;
}

}  // namespace

FftPlan::FftPlan(size_t n) : n_(n) {
  SP_CHECK(n >= 4 && n % 2 == 0 && n <= size_t(1) << 30, "fft: length must be even and in [4, 2^30], got ", n);
  auto real = fftw_buffer<double>(n);
  auto spec = fftw_buffer<fftw_complex>(n / 2 + 1);
  std::lock_guard<std::mutex> lock(planner_mutex());
  // FFTW_ESTIMATE leaves the arrays untouched while planning and picks the algorithm from n alone.
  forward_ = fftw_plan_dft_r2c_1d(int(n), real.get(), spec.get(), FFTW_ESTIMATE);
  backward_ = fftw_plan_dft_c2r_1d(int(n), spec.get(), real.get(), FFTW_ESTIMATE);
  if (!forward_ || !backward_) {
    if (forward_) fftw_destroy_plan(static_cast<fftw_plan>(forward_));
    if (backward_) fftw_destroy_plan(static_cast<fftw_plan>(backward_));
    SP_FAIL("fft: FFTW could not plan a real transform of length ", n);
  }
}

FftPlan::~FftPlan() {
  std::lock_guard<std::mutex> lock(planner_mutex());
  fftw_destroy_plan(static_cast<fftw_plan>(forward_));
  fftw_destroy_plan(static_cast<fftw_plan>(backward_));
}

std::vector<std::complex<double>> FftPlan::rfft(const std::vector<double>& x) const {
  SP_CHECK(x.size() == n_, "fft: rfft of ", x.size(), " values with a plan for ", n_);
  auto in = fftw_buffer<double>(n_);
  auto out = fftw_buffer<fftw_complex>(n_ / 2 + 1);
  std::memcpy(in.get(), x.data(), n_ * sizeof(double));
  fftw_execute_dft_r2c(static_cast<fftw_plan>(forward_), in.get(), out.get());
  std::vector<std::complex<double>> spectrum(n_ / 2 + 1);
  for (size_t k = 0; k <= n_ / 2; ++k) spectrum[k] = {out[k][0], out[k][1]};
  return spectrum;
}

std::vector<double> FftPlan::irfft(const std::vector<std::complex<double>>& spectrum) const {
  SP_CHECK(spectrum.size() == n_ / 2 + 1, "fft: irfft of ", spectrum.size(), " bins with a plan for ", n_,
           " (expected ", n_ / 2 + 1, ")");
  auto in = fftw_buffer<fftw_complex>(n_ / 2 + 1);  // c2r overwrites its input: always a scratch copy
  auto out = fftw_buffer<double>(n_);
  for (size_t k = 0; k <= n_ / 2; ++k) {
    in[k][0] = spectrum[k].real();
    in[k][1] = spectrum[k].imag();
  }
  fftw_execute_dft_c2r(static_cast<fftw_plan>(backward_), in.get(), out.get());
  std::vector<double> x(n_);
  const double scale = 1.0 / double(n_);  // FFTW's inverse is unnormalised
  for (size_t j = 0; j < n_; ++j) x[j] = out[j] * scale;
  return x;
}

}  // namespace sp::dpsgd
