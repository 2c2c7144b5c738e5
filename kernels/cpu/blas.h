// Row-major CBLAS GEMM for float and double behind one overloaded name, so templated CPU kernels
// (kernels/cpu/matmul.cpp, kernels/cpu/conv.cpp) call BLAS without dtype switches. Covered by their tests.
#pragma once
#include <cblas.h>

#include <cstdint>

namespace sp::cpu {

// C[M,N] = alpha op(A) op(B) + beta C with leading dimensions (row strides) lda, ldb, ldc.
inline void gemm_rm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
                    const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, int(m), int(n), int(k),
              alpha, a, int(lda), b, int(ldb), beta, c, int(ldc));
}
inline void gemm_rm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha, const double* a, int64_t lda,
                    const double* b, int64_t ldb, double beta, double* c, int64_t ldc) {
  cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, int(m), int(n), int(k),
              alpha, a, int(lda), b, int(ldb), beta, c, int(ldc));
}

}  // namespace sp::cpu
