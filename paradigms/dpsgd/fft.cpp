// Iterative radix-2 decimation-in-time FFT and the half-length trick for real sequences. See fft.h.
// Tested by tests/test_accountant_math.cpp.
#include "paradigms/dpsgd/fft.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "kernels/error.h"

namespace sp::dpsgd {

FftPlan::FftPlan(size_t n) : n_(n) {
  SP_CHECK(n >= 4 && (n & (n - 1)) == 0, "FftPlan: length must be a power of two >= 4, got ", n);
  twiddle_.resize(n / 2 + 1);
  for (size_t k = 0; k <= n / 2; ++k) {
    const double angle = -2.0 * std::numbers::pi * double(k) / double(n);
    twiddle_[k] = {std::cos(angle), std::sin(angle)};
  }
}

void FftPlan::complex_half(std::vector<std::complex<double>>& a, bool inverse) const {
  const size_t m = n_ / 2;
  SP_CHECK(a.size() == m, "FftPlan::complex_half: expected ", m, " values, got ", a.size());
  // The transforms work on raw doubles: std::complex products go through a NaN-aware library call in
  // unoptimised builds, which made debug test runs several times slower. (Arrays of std::complex<double>
  // may be accessed as interleaved doubles: [complex.numbers.general].)
  double* d = reinterpret_cast<double*>(a.data());
  // Bit-reversal permutation.
  for (size_t i = 1, j = 0; i < m; ++i) {
    size_t bit = m >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j |= bit;
    if (i < j) {
      const double re = d[2 * i], im = d[2 * i + 1];
      d[2 * i] = d[2 * j];
      d[2 * i + 1] = d[2 * j + 1];
      d[2 * j] = re;
      d[2 * j + 1] = im;
    }
  }
  const double sign = inverse ? -1.0 : 1.0;
  const double* tw = reinterpret_cast<const double*>(twiddle_.data());
  // One radix-2 stage on the aligned groups of length len inside [begin, end).
  auto stage = [d, tw, sign, this](size_t len, size_t begin, size_t end) {
    const size_t half = len / 2, stride = n_ / len;  // twiddle_ holds n-th roots; length len uses every stride-th
    for (size_t start = begin; start < end; start += len) {
      double* u = d + 2 * start;
      double* v = u + 2 * half;
      for (size_t k = 0; k < half; ++k, u += 2, v += 2) {
        const double wr = tw[2 * k * stride], wi = sign * tw[2 * k * stride + 1];
        const double tr = v[0] * wr - v[1] * wi, ti = v[0] * wi + v[1] * wr;
        v[0] = u[0] - tr;
        v[1] = u[1] - ti;
        u[0] += tr;
        u[1] += ti;
      }
    }
  };
  // The early stages only mix values inside aligned blocks: run all of them block by block while the block
  // is in cache, so only the last log2(m / block) stages stream the whole (memory-bound) array.
  const size_t block = std::min(m, size_t(1) << 12);
  for (size_t begin = 0; begin < m; begin += block)
    for (size_t len = 2; len <= block; len <<= 1) stage(len, begin, begin + block);
  for (size_t len = 2 * block; len <= m; len <<= 1) stage(len, 0, m);
  if (inverse) {
    const double scale = 1.0 / double(m);
    for (size_t i = 0; i < 2 * m; ++i) d[i] *= scale;
  }
}

std::vector<std::complex<double>> FftPlan::rfft(const std::vector<double>& x) const {
  SP_CHECK(x.size() == n_, "FftPlan::rfft: expected ", n_, " values, got ", x.size());
  const size_t m = n_ / 2;
  // Even samples as real parts and odd samples as imaginary parts (the same memory layout as x).
  std::vector<std::complex<double>> z(x.size() / 2);
  std::copy(x.begin(), x.end(), reinterpret_cast<double*>(z.data()));
  complex_half(z, false);
  // Split the half-length transform: E_k = (Z_k + conj Z_{m-k})/2, O_k = -i (Z_k - conj Z_{m-k})/2, and
  // X_k = E_k + W^k O_k with W = exp(-2 pi i/n).
  std::vector<std::complex<double>> out(m + 1);
  const double* zd = reinterpret_cast<const double*>(z.data());
  const double* tw = reinterpret_cast<const double*>(twiddle_.data());
  double* o = reinterpret_cast<double*>(out.data());
  for (size_t k = 0; k <= m; ++k) {
    const size_t a = k % m, b = (m - k) % m;
    const double zr = zd[2 * a], zi = zd[2 * a + 1], cr = zd[2 * b], ci = -zd[2 * b + 1];
    const double er = 0.5 * (zr + cr), ei = 0.5 * (zi + ci);
    const double orr = 0.5 * (zi - ci), oi = -0.5 * (zr - cr);
    const double wr = tw[2 * k], wi = tw[2 * k + 1];
    o[2 * k] = er + wr * orr - wi * oi;
    o[2 * k + 1] = ei + wr * oi + wi * orr;
  }
  return out;
}

std::vector<double> FftPlan::irfft(const std::vector<std::complex<double>>& spectrum) const {
  const size_t m = n_ / 2;
  SP_CHECK(spectrum.size() == m + 1, "FftPlan::irfft: expected ", m + 1, " bins, got ", spectrum.size());
  // Undo the split: E_k = (X_k + conj X_{m-k})/2, O_k = (X_k - conj X_{m-k}) conj(W^k)/2, Z_k = E_k + i O_k.
  std::vector<std::complex<double>> z(m);
  const double* xd = reinterpret_cast<const double*>(spectrum.data());
  const double* tw = reinterpret_cast<const double*>(twiddle_.data());
  double* zd = reinterpret_cast<double*>(z.data());
  for (size_t k = 0; k < m; ++k) {
    const double xr = xd[2 * k], xi = xd[2 * k + 1], cr = xd[2 * (m - k)], ci = -xd[2 * (m - k) + 1];
    const double er = 0.5 * (xr + cr), ei = 0.5 * (xi + ci);
    const double dr = 0.5 * (xr - cr), di = 0.5 * (xi - ci);
    const double wr = tw[2 * k], wi = -tw[2 * k + 1];  // conj(W^k)
    const double orr = dr * wr - di * wi, oi = dr * wi + di * wr;
    zd[2 * k] = er - oi;
    zd[2 * k + 1] = ei + orr;
  }
  complex_half(z, true);
  std::vector<double> x(n_);
  std::copy(zd, zd + n_, x.begin());
  return x;
}

}  // namespace sp::dpsgd
