// ZCA whitening: the double-precision fit (BLAS dsyrk + LAPACK dsyevd), the GEMM-based maps and the
// digest-checked safetensors files (see zca.h). Tested in tests/test_zca.cpp.
#include "nn/zca.h"

#include <cblas.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "data/sha256.h"
#include "kernels/bias.h"
#include "kernels/elementwise.h"
#include "kernels/error.h"
#include "kernels/matmul.h"
#include "nn/safetensors.h"

// LAPACK's symmetric eigensolver (divide and conquer), exported by OpenBLAS and by reference LAPACK.
extern "C" void dsyevd_(const char* jobz, const char* uplo, const int* n, double* a, const int* lda, double* w,
                        double* work, const int* lwork, int* iwork, const int* liwork, int* info);

namespace sp {

namespace {

// dsyevd takes int sizes and needs a workspace of 1 + 6D + 2D^2 doubles: keep it well inside int and RAM.
constexpr int64_t kMaxDim = 16384;
// Rows centred and folded into the covariance per dsyrk call: bounds the extra memory for large N.
constexpr int64_t kChunkRows = 512;

// The x of fit_zca as rows [N, D] (either accepted rank), with its checks.
std::pair<int64_t, int64_t> fit_geometry(const Tensor& x) {
  SP_CHECK(x.defined(), "fit_zca: undefined input");
  SP_CHECK(x.device().is_cpu(), "fit_zca: input must be on the CPU, got ", x.str());
  SP_CHECK(x.dtype() == DType::f32 || x.dtype() == DType::f64, "fit_zca: input must be f32 or f64, got ", x.str());
  SP_CHECK(x.dim() == 2 || x.dim() == 4, "fit_zca: input must be [N, C, H, W] or [N, D], got ", x.str());
  const int64_t n = x.size(0);
  const int64_t d = n > 0 ? x.numel() / n : 0;
  SP_CHECK(n >= 2, "fit_zca: needs at least 2 samples for the unbiased covariance, got ", x.str());
  SP_CHECK(d >= 1 && d <= kMaxDim, "fit_zca: D = ", d, " must be in [1, ", kMaxDim, "] (input ", x.str(), ")");
  return {n, d};
}

// Column means in double, rejecting non-finite pixels (one would silently poison every entry of Sigma).
template <class T>
std::vector<double> column_means(const T* p, int64_t n, int64_t d) {
  std::vector<double> sum(size_t(d), 0.0);
  for (int64_t i = 0; i < n; ++i) {
    const T* row = p + i * d;
    for (int64_t j = 0; j < d; ++j) {
      const double v = double(row[j]);
      SP_CHECK(std::isfinite(v), "fit_zca: non-finite value ", v, " at sample ", i, ", feature ", j);
      sum[size_t(j)] += v;
    }
  }
  for (double& v : sum) v /= double(n);
  return sum;
}

// Upper triangle (row-major) of (X - mu)^T (X - mu) / (N - 1), accumulated over chunks of centred rows.
template <class T>
void covariance_upper(const T* p, int64_t n, int64_t d, const std::vector<double>& mu, std::vector<double>& cov) {
  std::vector<double> chunk(size_t(std::min(n, kChunkRows) * d));
  const double alpha = 1.0 / double(n - 1);
  for (int64_t r0 = 0; r0 < n; r0 += kChunkRows) {
    const int64_t rows = std::min(kChunkRows, n - r0);
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < d; ++j) chunk[size_t(i * d + j)] = double(p[(r0 + i) * d + j]) - mu[size_t(j)];
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, int(d), int(rows), alpha, chunk.data(), int(d),
                r0 == 0 ? 0.0 : 1.0, cov.data(), int(d));
  }
}

// Sigma = U diag(w) U^T in place: on return `a` holds the eigenvectors as rows (a[j*D + i] = u_j[i]) and w the
// eigenvalues in ascending order. `a` is row-major with its upper triangle set, which is LAPACK's
// column-major lower triangle.
void eigh(std::vector<double>& a, std::vector<double>& w, int64_t d) {
  const int n = int(d);
  const char jobz = 'V', uplo = 'L';
  int info = 0, lwork = -1, liwork = -1, iwork_size = 0;
  double work_size = 0;
  dsyevd_(&jobz, &uplo, &n, a.data(), &n, w.data(), &work_size, &lwork, &iwork_size, &liwork, &info);
  SP_CHECK(info == 0, "fit_zca: LAPACK dsyevd workspace query failed (info ", info, ") for D = ", d);
  lwork = int(work_size);
  liwork = iwork_size;
  std::vector<double> work(size_t(std::max(lwork, 1)));
  std::vector<int> iwork(size_t(std::max(liwork, 1)));
  dsyevd_(&jobz, &uplo, &n, a.data(), &n, w.data(), work.data(), &lwork, iwork.data(), &liwork, &info);
  SP_CHECK(info >= 0, "fit_zca: LAPACK dsyevd rejected argument ", -info, " for D = ", d);
  SP_CHECK(info == 0, "fit_zca: LAPACK dsyevd failed to converge (info ", info, ") on the ", d, "x", d,
           " covariance");
}

// U diag(f(w)) U^T as f32, built as C^T C with C's rows sqrt(f(w_j)) u_j so that it is symmetric exactly
// (dsyrk computes one triangle, which is mirrored) and costs half a GEMM.
template <class F>
Tensor spectral_matrix(const std::vector<double>& u, const std::vector<double>& w, int64_t d, F sqrt_f) {
  std::vector<double> c(u.size()), m(u.size());
  for (int64_t j = 0; j < d; ++j) {
    const double k = sqrt_f(w[size_t(j)]);
    for (int64_t i = 0; i < d; ++i) c[size_t(j * d + i)] = k * u[size_t(j * d + i)];
  }
  cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, int(d), int(d), 1.0, c.data(), int(d), 0.0, m.data(), int(d));
  Tensor t = Tensor::empty({d, d}, DType::f32);
  float* o = t.data<float>();
  for (int64_t i = 0; i < d; ++i)
    for (int64_t k = i; k < d; ++k) o[i * d + k] = o[k * d + i] = float(m[size_t(i * d + k)]);
  return t;
}

template <class T>
Zca fit_typed(const T* p, int64_t n, int64_t d, double eps) {
  std::vector<double> mu = column_means(p, n, d);
  std::vector<double> a(size_t(d * d), 0.0);
  std::vector<double> w(static_cast<size_t>(d));
  covariance_upper(p, n, d, mu, a);
  eigh(a, w, d);
  // Sigma is positive semidefinite; rounding leaves its null directions slightly negative.
  for (double& v : w) v = std::max(v, 0.0);
  Zca z;
  z.eps = eps;
  z.samples = n;
  z.transform = spectral_matrix(a, w, d, [eps](double s) { return std::pow(s + eps, -0.25); });
  z.inverse = spectral_matrix(a, w, d, [eps](double s) { return std::pow(s + eps, 0.25); });
  std::vector<float> mean32(mu.begin(), mu.end());
  z.mean = Tensor::from_vector(mean32, {d});
  z.digest = zca_digest(z.mean, z.transform);
  return z;
}

// [N, D] view of apply/unapply's input, checked against the fit.
Tensor rows_of(const Zca& z, Stream& s, const Tensor& x, const char* op) {
  SP_CHECK(z.dim() > 0 && z.transform.defined() && z.inverse.defined(), op, ": the Zca holds no fit");
  SP_CHECK(x.defined() && x.dtype() == DType::f32 && (x.dim() == 2 || x.dim() == 4),
           op, ": input must be f32 [N, C, H, W] or [N, D], got ", x.defined() ? x.str() : "undefined");
  SP_CHECK(x.device() == s.device() && z.mean.device() == s.device(), op, ": input ", x.str(), ", fit on ",
           z.mean.device(), " and stream on ", s.device(), " must share a device (see Zca::to)");
  const int64_t n = x.size(0);
  SP_CHECK(n == 0 || x.numel() / n == z.dim(), op, ": input ", x.str(), " has ", n == 0 ? 0 : x.numel() / n,
           " values per sample, the fit has D = ", z.dim());
  return x.contiguous(s).view({n, z.dim()});
}

std::string format_double(double v) {
  char buf[32];
  snprintf(buf, sizeof buf, "%.17g", v);  // 17 significant digits round-trip every double
  return buf;
}

const std::string& metadata_at(const TensorFile& f, const std::string& key) {
  auto it = f.metadata.find(key);
  SP_CHECK(it != f.metadata.end(), "load_zca ", f.path, ": metadata '", key, "' is missing");
  return it->second;
}

void check_finite(const TensorFile& f, const std::string& key, const Tensor& t) {
  const float* p = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i)
    SP_CHECK(std::isfinite(p[i]), "load_zca ", f.path, ": '", key, "' holds a non-finite value at element ", i);
}

}  // namespace

Tensor Zca::apply(Stream& s, const Tensor& x) const {
  Tensor rows = rows_of(*this, s, x, "Zca::apply");
  Tensor centred = Tensor::empty(rows.shape(), DType::f32, s);
  binary(s, centred, rows, mean, BinaryOp::sub);
  Tensor out = Tensor::empty(rows.shape(), DType::f32, s);
  // PyTorch runs f32 matmuls in full precision by default (torch.backends.cuda.matmul.allow_tf32 is False), so
  // kornia's whitening does too; TF32's 10-bit mantissa would cost three digits on an ill-conditioned T.
  Tf32Guard full_fp32(s, false);
  gemm(s, out, centred, transform, false, false, 1.0, 0.0, "Zca::apply");
  return out.view(x.shape());
}

Tensor Zca::unapply(Stream& s, const Tensor& z) const {
  Tensor rows = rows_of(*this, s, z, "Zca::unapply");
  Tensor out = Tensor::empty(rows.shape(), DType::f32, s);
  {
    Tf32Guard full_fp32(s, false);
    gemm(s, out, rows, inverse, false, false, 1.0, 0.0, "Zca::unapply");
  }
  channel_bias_add(s, out, mean, "Zca::unapply");
  return out.view(z.shape());
}

Zca Zca::to(Device d, Stream& s) const {
  Zca z = *this;
  z.mean = mean.to(d, s);
  z.transform = transform.to(d, s);
  z.inverse = inverse.to(d, s);
  return z;
}

Zca fit_zca(const Tensor& x, double eps) {
  SP_CHECK(std::isfinite(eps) && eps > 0, "fit_zca: eps must be finite and > 0, got ", eps);
  auto [n, d] = fit_geometry(x);
  Tensor c = x.contiguous();
  if (c.dtype() == DType::f64) return fit_typed(c.data<double>(), n, d, eps);
  return fit_typed(c.data<float>(), n, d, eps);
}

std::string zca_digest(const Tensor& mean, const Tensor& transform, Stream& s) {
  SP_CHECK(mean.defined() && transform.defined() && mean.dtype() == DType::f32 && transform.dtype() == DType::f32,
           "zca_digest: mean and transform must be f32");
  data::Sha256 h;
  for (const Tensor* t : {&mean, &transform}) {
    Tensor c = t->to(Device::cpu(), s).contiguous();
    h.update(c.raw_data(), c.nbytes());
  }
  return h.hex_digest();
}

void save_zca(const std::string& path, const Zca& z, const std::map<std::string, std::string>& metadata) {
  const int64_t d = z.dim();
  SP_CHECK(d > 0 && z.mean.shape() == Shape{d} && z.transform.defined() && z.transform.shape() == (Shape{d, d}) &&
               z.inverse.defined() && z.inverse.shape() == (Shape{d, d}) && z.inverse.dtype() == DType::f32,
           "save_zca ", path, ": needs f32 mean [D], transform [D, D] and inverse [D, D], got ",
           z.mean.defined() ? z.mean.str() : "no mean", ", ",
           z.transform.defined() ? z.transform.str() : "no transform", ", ",
           z.inverse.defined() ? z.inverse.str() : "no inverse");
  // Fits are made on the CPU; a device copy (Zca::to) may still be in flight on a stream unknown here.
  SP_CHECK(z.mean.device().is_cpu() && z.transform.device().is_cpu() && z.inverse.device().is_cpu(), "save_zca ",
           path, ": the fit must be on the CPU, got ", z.mean.str());
  const std::string digest = zca_digest(z.mean, z.transform);
  // A digest that no longer matches means the tensors were edited after the fit: refuse to label them with it.
  SP_CHECK(z.digest.empty() || z.digest == digest, "save_zca ", path, ": the Zca's digest ", z.digest,
           " does not match its tensors (", digest, ")");
  std::map<std::string, std::string> md = metadata;
  for (const char* key : {"eps", "samples", "digest"})
    SP_CHECK(md.count(key) == 0, "save_zca ", path, ": caller metadata may not set the reserved key '", key, "'");
  md["eps"] = format_double(z.eps);
  md["samples"] = std::to_string(z.samples);
  md["digest"] = digest;
  save_safetensors(path, {{"mean", z.mean}, {"transform", z.transform}, {"inverse", z.inverse}}, md);
}

Zca load_zca(const std::string& path, int64_t expected_dim) {
  TensorFile f = load_safetensors(path);
  for (const auto& [key, t] : f.tensors)
    SP_CHECK(key == "mean" || key == "transform" || key == "inverse", "load_zca ", path, ": unexpected tensor '",
             key, "'");
  Zca z;
  z.mean = f.at("mean");
  z.transform = f.at("transform");
  z.inverse = f.at("inverse");
  const int64_t d = z.mean.numel();
  SP_CHECK(z.mean.dtype() == DType::f32 && z.mean.dim() == 1 && d > 0, "load_zca ", path,
           ": 'mean' must be f32 [D], got ", z.mean.str());
  for (const char* key : {"transform", "inverse"}) {
    const Tensor& t = f.at(key);
    SP_CHECK(t.dtype() == DType::f32 && t.shape() == (Shape{d, d}), "load_zca ", path, ": '", key,
             "' must be f32 [", d, ", ", d, "] to match mean, got ", t.str());
  }
  SP_CHECK(expected_dim <= 0 || d == expected_dim, "load_zca ", path, ": the fit has D = ", d, ", expected ",
           expected_dim);
  check_finite(f, "mean", z.mean);
  check_finite(f, "transform", z.transform);
  check_finite(f, "inverse", z.inverse);

  const std::string& eps = metadata_at(f, "eps");
  char* end = nullptr;
  errno = 0;
  z.eps = std::strtod(eps.c_str(), &end);
  SP_CHECK(!eps.empty() && *end == '\0' && errno == 0 && std::isfinite(z.eps) && z.eps > 0, "load_zca ", path,
           ": metadata eps '", eps, "' is not a finite number > 0");
  const std::string& samples = metadata_at(f, "samples");
  errno = 0;
  const long long n = std::strtoll(samples.c_str(), &end, 10);
  SP_CHECK(!samples.empty() && *end == '\0' && errno == 0 && n >= 2, "load_zca ", path, ": metadata samples '",
           samples, "' is not an integer >= 2");
  z.samples = n;
  z.digest = metadata_at(f, "digest");
  const std::string actual = zca_digest(z.mean, z.transform);
  SP_CHECK(actual == z.digest, "load_zca ", path, ": digest mismatch: metadata says ", z.digest,
           ", mean and transform hash to ", actual);
  return z;
}

}  // namespace sp
