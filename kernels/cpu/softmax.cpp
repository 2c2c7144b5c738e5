// CPU reference for log-softmax and softmax along the last axis (see kernels/softmax.h); row statistics
// (log-sum-exp, the backward's row sums) in double.
#include "kernels/softmax.h"

#include "kernels/dispatch.h"
#include "kernels/softmax_math.h"

namespace sp {
namespace {

void fwd_cpu(Stream&, const Tensor& y, const Tensor& x) {
  const int64_t C = x.size(-1), rows = x.numel() / C;
  SP_DISPATCH_FLOAT(x.dtype(), "log_softmax", {
    const scalar_t* xp = x.data<scalar_t>();
    scalar_t* yp = y.data<scalar_t>();
    for (int64_t r = 0; r < rows; ++r) {
      stat::MaxSum<double> ms;
      for (int64_t j = 0; j < C; ++j) ms.push(double(xp[r * C + j]));
      const scalar_t lse = scalar_t(ms.lse());
      for (int64_t j = 0; j < C; ++j) yp[r * C + j] = xp[r * C + j] - lse;
    }
  });
}

void bwd_cpu(Stream&, const Tensor& dx, const Tensor& dy, const Tensor& y, double beta) {
  const int64_t C = y.size(-1), rows = y.numel() / C;
  SP_DISPATCH_FLOAT(y.dtype(), "log_softmax backward", {
    const scalar_t* gy = dy.data<scalar_t>();
    const scalar_t* yp = y.data<scalar_t>();
    scalar_t* gx = dx.data<scalar_t>();
    for (int64_t r = 0; r < rows; ++r) {
      double sum = 0;
      for (int64_t j = 0; j < C; ++j) sum += double(gy[r * C + j]);
      for (int64_t j = 0; j < C; ++j) {
        const int64_t k = r * C + j;
        stat::store_grad(gx[k], smx::log_softmax_grad(gy[k], yp[k], scalar_t(sum)), scalar_t(beta));
      }
    }
  });
}

void softmax_fwd_cpu(Stream&, const Tensor& y, const Tensor& x) {
  const int64_t C = x.size(-1), rows = x.numel() / C;
  SP_DISPATCH_FLOAT(x.dtype(), "softmax", {
    const scalar_t* xp = x.data<scalar_t>();
    scalar_t* yp = y.data<scalar_t>();
    for (int64_t r = 0; r < rows; ++r) {
      stat::MaxSum<double> ms;
      for (int64_t j = 0; j < C; ++j) ms.push(double(xp[r * C + j]));
      const scalar_t m = scalar_t(ms.m), sum = scalar_t(ms.s);
      for (int64_t j = 0; j < C; ++j) yp[r * C + j] = smx::softmax_value(xp[r * C + j], m, sum);
    }
  });
}

void softmax_bwd_cpu(Stream&, const Tensor& dx, const Tensor& dy, const Tensor& y, double beta) {
  const int64_t C = y.size(-1), rows = y.numel() / C;
  SP_DISPATCH_FLOAT(y.dtype(), "softmax backward", {
    const scalar_t* gy = dy.data<scalar_t>();
    const scalar_t* yp = y.data<scalar_t>();
    scalar_t* gx = dx.data<scalar_t>();
    for (int64_t r = 0; r < rows; ++r) {
      double dot = 0;
      for (int64_t j = 0; j < C; ++j) dot += double(gy[r * C + j]) * double(yp[r * C + j]);
      for (int64_t j = 0; j < C; ++j) {
        const int64_t k = r * C + j;
        stat::store_grad(gx[k], smx::softmax_grad(gy[k], yp[k], scalar_t(dot)), scalar_t(beta));
      }
    }
  });
}

}  // namespace
SP_REGISTER_KERNEL(k_log_softmax_fwd, CPU, fwd_cpu);
SP_REGISTER_KERNEL(k_log_softmax_bwd, CPU, bwd_cpu);
SP_REGISTER_KERNEL(k_softmax_fwd, CPU, softmax_fwd_cpu);
SP_REGISTER_KERNEL(k_softmax_bwd, CPU, softmax_bwd_cpu);
}  // namespace sp
