// CPU gemm through CBLAS, one call per batch entry; bf16 is widened to f32 around an sgemm (see matmul.h).
#include "kernels/cpu/blas.h"
#include "kernels/dispatch.h"
#include "kernels/matmul.h"

namespace sp {
namespace {

void gemm_cpu(Stream& s, const Tensor& c, const Tensor& a, const Tensor& b, bool ta, bool tb, double alpha,
              double beta) {
  if (c.dtype() == DType::bf16) {
    Tensor cf = beta == 0.0 ? Tensor::empty(c.shape(), DType::f32) : c.to(DType::f32);
    gemm_cpu(s, cf, a.to(DType::f32), b.to(DType::f32), ta, tb, alpha, beta);
    Tensor(c).copy_(cf);  // a handle copy: the elements are the output
    return;
  }
  int r = c.dim();
  int64_t batch = r == 3 ? c.size(0) : 1, m = c.size(r - 2), n = c.size(r - 1);
  int64_t k = ta ? a.size(r - 2) : a.size(r - 1);
  int64_t lda = a.size(r - 1), ldb = b.size(r - 1);
  SP_DISPATCH_FLOAT(c.dtype(), "gemm", {
    const scalar_t* ap = a.data<scalar_t>();
    const scalar_t* bp = b.data<scalar_t>();
    scalar_t* cp = c.data<scalar_t>();
    for (int64_t i = 0; i < batch; ++i)
      cpu::gemm_rm(ta, tb, m, n, k, scalar_t(alpha), ap + i * m * k, lda, bp + i * k * n, ldb, scalar_t(beta),
                   cp + i * m * n, n);
  });
}

}  // namespace
SP_REGISTER_KERNEL(k_gemm, CPU, gemm_cpu);
}  // namespace sp
