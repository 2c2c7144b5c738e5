// Kernel object and validating wrapper for gemm (see matmul.h).
#include "kernels/matmul.h"

#include "kernels/axpby.h"

namespace sp {

constinit Kernel<GemmFn> k_gemm("gemm");

void gemm(Stream& s, const Tensor& c, const Tensor& a, const Tensor& b, bool trans_a, bool trans_b, double alpha,
          double beta, const char* op) {
  SP_CHECK(a.dim() == b.dim() && a.dim() == c.dim() && (a.dim() == 2 || a.dim() == 3), op,
           ": operands must all be 2-D or all 3-D, got A ", a.shape(), ", B ", b.shape(), ", C ", c.shape());
  SP_CHECK(a.dtype() == b.dtype() && a.dtype() == c.dtype() &&
               (a.dtype() == DType::f32 || a.dtype() == DType::f64 || a.dtype() == DType::bf16),
           op, ": dtypes must match and be F32, F64 or BF16, got A ", a.str(), ", B ", b.str(), ", C ", c.str());
  check_same_device(op, a, b);
  check_same_device(op, a, c);
  SP_CHECK(s.device() == c.device(), op, ": tensors on ", c.device(), " but stream on ", s.device());
  int r = a.dim();
  int64_t m = trans_a ? a.size(r - 1) : a.size(r - 2), ka = trans_a ? a.size(r - 2) : a.size(r - 1);
  int64_t kb = trans_b ? b.size(r - 1) : b.size(r - 2), n = trans_b ? b.size(r - 2) : b.size(r - 1);
  SP_CHECK(ka == kb, op, ": inner dimensions differ: A ", a.shape(), (trans_a ? "^T" : ""), " x B ", b.shape(),
           (trans_b ? "^T" : ""));
  SP_CHECK(c.size(r - 2) == m && c.size(r - 1) == n, op, ": output ", c.shape(), " should be [", m, ", ", n,
           "] for A ", a.shape(), (trans_a ? "^T" : ""), " x B ", b.shape(), (trans_b ? "^T" : ""));
  if (r == 3)
    SP_CHECK(a.size(0) == b.size(0) && a.size(0) == c.size(0), op, ": batch sizes differ: A ", a.shape(), ", B ",
             b.shape(), ", C ", c.shape());
  SP_CHECK(a.is_contiguous() && b.is_contiguous() && c.is_contiguous(), op, ": needs contiguous operands, got A ",
           a.str(), ", B ", b.str(), ", C ", c.str());
  SP_CHECK(m < (int64_t(1) << 31) && n < (int64_t(1) << 31) && ka < (int64_t(1) << 31), op,
           ": matrix dimensions exceed the BLAS int range: A ", a.shape(), ", B ", b.shape());
  if (c.numel() == 0) return;
  if (ka == 0) {  // empty sum: C = beta C
    if (beta == 0.0)
      Tensor(c).zero_(s);  // a handle copy: the elements are the output
    else
      axpby(s, c, c, 0.0, beta);
    return;
  }
  k_gemm(c.device(), s, c, a, b, trans_a, trans_b, alpha, beta);
}

}  // namespace sp
