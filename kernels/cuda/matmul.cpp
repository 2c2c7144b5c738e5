// CUDA gemm through cuBLAS (see kernels/matmul.h). cuBLAS is column-major: a row-major C[M,N] is the
// column-major C^T, so C^T = op(B)^T op(A)^T is computed by passing B first with the sizes swapped.
// f32: cublasGemmEx with TF32 tensor-op compute when Stream::allow_tf32, else pedantic fp32; bf16: f32
// compute; f64: cublasDgemm. Compared with the CPU reference in tests/gpu/test_ops_matmul_gpu.cpp.
#include "kernels/cuda/cuda_context.h"
#include "kernels/matmul.h"

namespace sp {
namespace {

void gemm_cuda(Stream& s, const Tensor& c, const Tensor& a, const Tensor& b, bool ta, bool tb, double alpha,
               double beta) {
  int r = c.dim();
  int64_t batch = r == 3 ? c.size(0) : 1;
  int m = int(c.size(r - 2)), n = int(c.size(r - 1));
  int k = int(ta ? a.size(r - 2) : a.size(r - 1));
  int lda = int(a.size(r - 1)), ldb = int(b.size(r - 1)), ldc = n;
  long long stride_a = (long long)m * k, stride_b = (long long)k * n, stride_c = (long long)m * n;
  cublasOperation_t op_b = tb ? CUBLAS_OP_T : CUBLAS_OP_N, op_a = ta ? CUBLAS_OP_T : CUBLAS_OP_N;
  cublasHandle_t h = cublas_handle(s);

  if (c.dtype() == DType::f64) {
    const double al = alpha, be = beta;
    const double* ap = a.data<double>();
    const double* bp = b.data<double>();
    double* cp = c.data<double>();
    if (batch == 1)
      SP_CUBLAS_CHECK(cublasDgemm(h, op_b, op_a, n, m, k, &al, bp, ldb, ap, lda, &be, cp, ldc));
    else
      SP_CUBLAS_CHECK(cublasDgemmStridedBatched(h, op_b, op_a, n, m, k, &al, bp, ldb, stride_b, ap, lda, stride_a,
                                                &be, cp, ldc, stride_c, int(batch)));
    return;
  }
  cudaDataType_t type = c.dtype() == DType::bf16 ? CUDA_R_16BF : CUDA_R_32F;
  cublasComputeType_t compute = CUBLAS_COMPUTE_32F;
  if (c.dtype() == DType::f32) compute = s.allow_tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F_PEDANTIC;
  const float al = float(alpha), be = float(beta);
  if (batch == 1)
    SP_CUBLAS_CHECK(cublasGemmEx(h, op_b, op_a, n, m, k, &al, b.raw_data(), type, ldb, a.raw_data(), type, lda, &be,
                                 c.raw_data(), type, ldc, compute, CUBLAS_GEMM_DEFAULT));
  else
    SP_CUBLAS_CHECK(cublasGemmStridedBatchedEx(h, op_b, op_a, n, m, k, &al, b.raw_data(), type, ldb, stride_b,
                                               a.raw_data(), type, lda, stride_a, &be, c.raw_data(), type, ldc,
                                               stride_c, int(batch), compute, CUBLAS_GEMM_DEFAULT));
}

}  // namespace
SP_REGISTER_KERNEL(k_gemm, CUDA, gemm_cuda);
}  // namespace sp
