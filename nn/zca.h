// ZCA whitening of images, as MTT/DATM upstream use with --zca (kornia's ZCAWhitening semantics): fitted on
// [0, 1] pixels flattened to rows of D = C*H*W values, with the unbiased covariance Sigma = U S U^T and a
// regularising eps added to the eigenvalues, T = U diag((S + eps)^-1/2) U^T. Whitening maps a row x to
// (x - mean) T and back with T_inv = U diag((S + eps)^1/2) U^T. The fit runs in double on the CPU (BLAS
// dsyrk for the covariance, LAPACK dsyevd for the eigendecomposition); apply/unapply are one GEMM each on
// any backend. Fits are saved as safetensors with a SHA-256 digest that identifies them. Tested in
// tests/test_zca.cpp (whitened covariance, closed form, round trips, every corrupt-file case, a D = 3072 fit).
#pragma once
#include <cstdint>
#include <map>
#include <string>

#include "kernels/tensor.h"

namespace sp {

struct Zca {
  Tensor mean;       // f32 [D]
  Tensor transform;  // f32 [D, D]
  Tensor inverse;    // f32 [D, D]
  double eps = 0.1;
  int64_t samples = 0;  // N of the fit
  std::string digest;   // hex SHA-256 of the bytes of mean then transform (identifies the fit)
  int64_t dim() const { return mean.defined() ? mean.numel() : 0; }
  // x: f32 [N, C, H, W] (or [N, D]) on s's device with C*H*W == dim(), pixels in [0, 1] -> whitened, same
  // shape, f32, same device. One GEMM.
  Tensor apply(Stream& s, const Tensor& x) const;
  // The inverse map (whitened -> [0, 1] pixels), same shapes.
  Tensor unapply(Stream& s, const Tensor& z) const;
  // A copy with the tensors on device `d` (for GPU use).
  Zca to(Device d, Stream& s) const;
};

// x: f32 or f64 [N, C, H, W] or [N, D] on the CPU, N >= 2, all finite (else an sp::Error). Everything in double.
Zca fit_zca(const Tensor& x, double eps = 0.1);

// Hex SHA-256 of the raw bytes of `mean` then `transform` (CPU or device tensors; read through s).
std::string zca_digest(const Tensor& mean, const Tensor& transform, Stream& s = Stream::cpu());

// Safetensors with "mean", "transform", "inverse" (f32) and metadata eps, samples, digest plus the caller's
// (which must not reuse those three keys). The fit must be on the CPU. Atomic write.
void save_zca(const std::string& path, const Zca& z, const std::map<std::string, std::string>& metadata = {});
// Validates keys, shapes [D] / [D, D] / [D, D], f32, finite values, expected_dim (if > 0), the metadata and
// that the recomputed digest equals the stored one; errors name the file.
Zca load_zca(const std::string& path, int64_t expected_dim = 0);

}  // namespace sp
