// CUDA losses (see kernels/loss.h); compared with the CPU reference in tests/gpu/test_ops_loss_gpu.cpp.
// Forwards: one warp per row computes the row's log-sum-exp (online max/sum, kernels/stat_math.h) and its
// loss into a [N] buffer, then one block sums the buffer in double (fixed order: deterministic). The
// backwards need no row reductions (the forward saved them) and run elementwise, reading the upstream
// gradient from its device scalar. A label outside [0, C) turns its row's loss and gradient into NaN.
#include <algorithm>

#include "kernels/cuda/cuda_context.h"
#include "kernels/cuda/norm_reduce.cuh"
#include "kernels/dispatch.h"
#include "kernels/fast_div.h"
#include "kernels/loss.h"
#include "kernels/norm_math.h"
#include "kernels/softmax_math.h"

namespace sp {
namespace {

constexpr int kRowsPerBlock = kBlock / 32;

unsigned row_blocks(int64_t rows) { return unsigned((rows + kRowsPerBlock - 1) / kRowsPerBlock); }

// out[0] = scale * sum(v), accumulated in double by one block.
template <class T, class V>
__global__ void sum_to_scalar_kernel(T* __restrict__ out, const V* __restrict__ v, int64_t n, double scale) {
  double acc = 0;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) acc += double(v[i]);
  acc = reduce::block_sum(acc);
  if (threadIdx.x == 0) out[0] = T(acc * scale);
}

template <class T, class V>
void launch_sum_to_scalar(Stream& st, const Tensor& out, const Tensor& v, double scale) {
  sum_to_scalar_kernel<T, V><<<1, kBlock, 0, cuda_stream(st)>>>(out.data<T>(), v.data<V>(), v.numel(), scale);
  SP_CUDA_LAUNCH_CHECK();
}

// ---- cross entropy, hard labels ----

template <class T>
__global__ void ce_rows_kernel(const T* __restrict__ x, const int64_t* __restrict__ labels, int64_t N, int64_t C, T eps,
                               T* __restrict__ lse_out, T* __restrict__ row_loss) {
  const int64_t i = blockIdx.x * int64_t(kRowsPerBlock) + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (i >= N) return;  // whole warps leave together
  const T* xr = x + i * C;
  stat::MaxSum<T> ms;
  for (int64_t j = lane; j < C; j += 32) ms.push(xr[j]);
  reduce::warp_allmaxsum(ms);
  const T lse = ms.lse();
  T nll_sum = 0;
  if (eps != T(0)) {
    for (int64_t j = lane; j < C; j += 32) nll_sum += lse - xr[j];
    nll_sum = reduce::warp_allsum(nll_sum);
  }
  if (lane == 0) {
    const int64_t y = labels[i];
    lse_out[i] = lse;
    row_loss[i] = (y < 0 || y >= C) ? smx::quiet_nan<T>() : smx::ce_hard_row_loss(lse - xr[y], nll_sum, eps, T(C));
  }
}

void ce_fwd_cuda(Stream& st, const Tensor& loss, const Tensor& lse, const Tensor& logits, const Tensor& labels,
                 double smoothing) {
  const int64_t N = logits.size(0), C = logits.size(1);
  SP_DISPATCH_FLOAT(logits.dtype(), "cross_entropy", {
    using T = scalar_t;
    Tensor rows = Tensor::empty({N}, logits.dtype(), st);
    ce_rows_kernel<T><<<row_blocks(N), kBlock, 0, cuda_stream(st)>>>(logits.data<T>(), labels.data<int64_t>(), N, C,
                                                                     T(smoothing), lse.data<T>(), rows.data<T>());
    SP_CUDA_LAUNCH_CHECK();
    launch_sum_to_scalar<T, T>(st, loss, rows, 1.0 / double(N));
  });
}

template <class T>
__global__ void ce_bwd_kernel(T* __restrict__ dx, const T* __restrict__ grad_loss, const T* __restrict__ x,
                              const int64_t* __restrict__ labels, const T* __restrict__ lse, IndexDiv by_c, int64_t C,
                              int64_t total, T eps, T inv_n, T beta) {
  const T scale = grad_loss[0] * inv_n;
  for (int64_t k = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; k < total; k += int64_t(gridDim.x) * blockDim.x) {
    const int64_t i = by_c.div(k), j = k - i * C, y = labels[i];
    const T g = (y < 0 || y >= C) ? smx::quiet_nan<T>() : smx::ce_hard_grad(x[k], lse[i], j == y, eps, T(C), scale);
    stat::store_grad(dx[k], g, beta);
  }
}

void ce_bwd_cuda(Stream& st, const Tensor& dlogits, const Tensor& grad_loss, const Tensor& logits, const Tensor& labels,
                 const Tensor& lse, double smoothing, double beta) {
  const int64_t N = logits.size(0), C = logits.size(1), total = logits.numel();
  SP_DISPATCH_FLOAT(logits.dtype(), "cross_entropy backward", {
    using T = scalar_t;
    ce_bwd_kernel<T><<<grid_1d(total), kBlock, 0, cuda_stream(st)>>>(
        dlogits.data<T>(), grad_loss.data<T>(), logits.data<T>(), labels.data<int64_t>(), lse.data<T>(),
        IndexDiv(C, total), C, total, T(smoothing), T(1.0 / double(N)), T(beta));
  });
  SP_CUDA_LAUNCH_CHECK();
}

// ---- cross entropy, soft targets ----

template <class T>
__global__ void soft_ce_rows_kernel(const T* __restrict__ x, const T* __restrict__ t, int64_t N, int64_t C, T eps,
                                    T* __restrict__ lse_out, T* __restrict__ tsum_out, T* __restrict__ row_loss) {
  const int64_t i = blockIdx.x * int64_t(kRowsPerBlock) + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (i >= N) return;
  const T *xr = x + i * C, *tr = t + i * C;
  stat::MaxSum<T> ms;
  T tsum = 0;
  for (int64_t j = lane; j < C; j += 32) {
    ms.push(xr[j]);
    tsum += smx::smooth_target(tr[j], eps, T(C));
  }
  reduce::warp_allmaxsum(ms);
  const T lse = ms.lse();
  T row = 0;
  for (int64_t j = lane; j < C; j += 32) row += smx::smooth_target(tr[j], eps, T(C)) * (lse - xr[j]);
  row = reduce::warp_sum(row);
  tsum = reduce::warp_sum(tsum);
  if (lane == 0) {
    lse_out[i] = lse;
    tsum_out[i] = tsum;
    row_loss[i] = row;
  }
}

void soft_ce_fwd_cuda(Stream& st, const Tensor& loss, const Tensor& lse, const Tensor& target_sum, const Tensor& logits,
                      const Tensor& targets, double smoothing) {
  const int64_t N = logits.size(0), C = logits.size(1);
  SP_DISPATCH_FLOAT(logits.dtype(), "cross_entropy (soft targets)", {
    using T = scalar_t;
    Tensor rows = Tensor::empty({N}, logits.dtype(), st);
    soft_ce_rows_kernel<T><<<row_blocks(N), kBlock, 0, cuda_stream(st)>>>(
        logits.data<T>(), targets.data<T>(), N, C, T(smoothing), lse.data<T>(), target_sum.data<T>(), rows.data<T>());
    SP_CUDA_LAUNCH_CHECK();
    launch_sum_to_scalar<T, T>(st, loss, rows, 1.0 / double(N));
  });
}

template <class T>
__global__ void soft_ce_bwd_kernel(T* dlogits, T* dtargets, const T* __restrict__ grad_loss, const T* __restrict__ x,
                                   const T* __restrict__ t, const T* __restrict__ lse, const T* __restrict__ tsum,
                                   IndexDiv by_c, int64_t C, int64_t total, T eps, T inv_n, T beta_l, T beta_t) {
  const T scale = grad_loss[0] * inv_n;
  for (int64_t k = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; k < total; k += int64_t(gridDim.x) * blockDim.x) {
    const int64_t i = by_c.div(k);
    if (dlogits)
      stat::store_grad(dlogits[k],
                       smx::ce_soft_grad_logit(x[k], lse[i], smx::smooth_target(t[k], eps, T(C)), tsum[i], scale),
                       beta_l);
    if (dtargets) stat::store_grad(dtargets[k], smx::ce_soft_grad_target(x[k], lse[i], eps, scale), beta_t);
  }
}

void soft_ce_bwd_cuda(Stream& st, const Tensor& dlogits, const Tensor& dtargets, const Tensor& grad_loss,
                      const Tensor& logits, const Tensor& targets, const Tensor& lse, const Tensor& target_sum,
                      double smoothing, double beta_logits, double beta_targets) {
  const int64_t N = logits.size(0), C = logits.size(1), total = logits.numel();
  SP_DISPATCH_FLOAT(logits.dtype(), "cross_entropy (soft targets) backward", {
    using T = scalar_t;
    soft_ce_bwd_kernel<T><<<grid_1d(total), kBlock, 0, cuda_stream(st)>>>(
        data_or_null<T>(dlogits), data_or_null<T>(dtargets), grad_loss.data<T>(), logits.data<T>(), targets.data<T>(),
        lse.data<T>(), target_sum.data<T>(), IndexDiv(C, total), C, total, T(smoothing), T(1.0 / double(N)),
        T(beta_logits), T(beta_targets));
  });
  SP_CUDA_LAUNCH_CHECK();
}

// ---- distillation KL ----

template <class T>
__global__ void kl_rows_kernel(const T* __restrict__ s, const T* __restrict__ t, int64_t N, int64_t C, T temp,
                               T* __restrict__ lse_s, T* __restrict__ lse_t, T* __restrict__ row_kl) {
  const int64_t i = blockIdx.x * int64_t(kRowsPerBlock) + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (i >= N) return;
  const T *sr = s + i * C, *tr = t + i * C;
  stat::MaxSum<T> ms, mt;
  for (int64_t j = lane; j < C; j += 32) {
    ms.push(sr[j] / temp);
    mt.push(tr[j] / temp);
  }
  reduce::warp_allmaxsum(ms);
  reduce::warp_allmaxsum(mt);
  const T ls = ms.lse(), lt = mt.lse();
  T kl = 0;
  for (int64_t j = lane; j < C; j += 32) kl += smx::kl_term(tr[j] / temp - lt, sr[j] / temp - ls);
  kl = reduce::warp_sum(kl);
  if (lane == 0) {
    lse_s[i] = ls;
    lse_t[i] = lt;
    row_kl[i] = kl;
  }
}

void kl_fwd_cuda(Stream& st, const Tensor& loss, const Tensor& lse_s, const Tensor& lse_t, const Tensor& row_kl,
                 const Tensor& student, const Tensor& teacher, double temperature) {
  const int64_t N = student.size(0), C = student.size(1);
  SP_DISPATCH_FLOAT(student.dtype(), "kl_div", {
    using T = scalar_t;
    kl_rows_kernel<T><<<row_blocks(N), kBlock, 0, cuda_stream(st)>>>(
        student.data<T>(), teacher.data<T>(), N, C, T(temperature), lse_s.data<T>(), lse_t.data<T>(), row_kl.data<T>());
    SP_CUDA_LAUNCH_CHECK();
    launch_sum_to_scalar<T, T>(st, loss, row_kl, temperature * temperature / double(N));
  });
}

template <class T>
__global__ void kl_bwd_kernel(T* dstudent, T* dteacher, const T* __restrict__ grad_loss, const T* __restrict__ s,
                              const T* __restrict__ t, const T* __restrict__ lse_s, const T* __restrict__ lse_t,
                              const T* __restrict__ row_kl, IndexDiv by_c, int64_t total, T temp, T temp_over_n,
                              T beta_s, T beta_t) {
  const T scale = grad_loss[0] * temp_over_n;
  for (int64_t k = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; k < total; k += int64_t(gridDim.x) * blockDim.x) {
    const int64_t i = by_c.div(k);
    const T log_q = t[k] / temp - lse_t[i], log_p = s[k] / temp - lse_s[i];
    if (dstudent) stat::store_grad(dstudent[k], smx::kl_grad_student(log_q, log_p, scale), beta_s);
    if (dteacher) stat::store_grad(dteacher[k], smx::kl_grad_teacher(log_q, log_p, row_kl[i], scale), beta_t);
  }
}

void kl_bwd_cuda(Stream& st, const Tensor& dstudent, const Tensor& dteacher, const Tensor& grad_loss,
                 const Tensor& student, const Tensor& teacher, const Tensor& lse_s, const Tensor& lse_t,
                 const Tensor& row_kl, double temperature, double beta_s, double beta_t) {
  const int64_t N = student.size(0), C = student.size(1), total = student.numel();
  SP_DISPATCH_FLOAT(student.dtype(), "kl_div backward", {
    using T = scalar_t;
    kl_bwd_kernel<T><<<grid_1d(total), kBlock, 0, cuda_stream(st)>>>(
        data_or_null<T>(dstudent), data_or_null<T>(dteacher), grad_loss.data<T>(), student.data<T>(), teacher.data<T>(),
        lse_s.data<T>(), lse_t.data<T>(), row_kl.data<T>(), IndexDiv(C, total), total, T(temperature),
        T(temperature / double(N)), T(beta_s), T(beta_t));
  });
  SP_CUDA_LAUNCH_CHECK();
}

// ---- mse ----

constexpr int64_t kMsePartials = 1024;

template <class T>
__global__ void mse_partial_kernel(const T* __restrict__ a, const T* __restrict__ b, int64_t n,
                                   double* __restrict__ partial) {
  double acc = 0;
  for (int64_t k = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; k < n; k += int64_t(gridDim.x) * blockDim.x) {
    const double d = double(a[k] - b[k]);
    acc += d * d;
  }
  acc = reduce::block_sum(acc);
  if (threadIdx.x == 0) partial[blockIdx.x] = acc;
}

void mse_fwd_cuda(Stream& st, const Tensor& loss, const Tensor& a, const Tensor& b) {
  const int64_t n = a.numel();
  const int64_t blocks = std::min<int64_t>(grid_1d(n), kMsePartials);
  Tensor partial = Tensor::empty({blocks}, DType::f64, st);
  SP_DISPATCH_FLOAT(a.dtype(), "mse_loss", {
    using T = scalar_t;
    mse_partial_kernel<T>
        <<<unsigned(blocks), kBlock, 0, cuda_stream(st)>>>(a.data<T>(), b.data<T>(), n, partial.data<double>());
    SP_CUDA_LAUNCH_CHECK();
    launch_sum_to_scalar<T, double>(st, loss, partial, 1.0 / double(n));
  });
}

template <class T>
__global__ void mse_bwd_kernel(T* da, T* db, const T* __restrict__ grad_loss, const T* __restrict__ a,
                               const T* __restrict__ b, int64_t n, T two_over_n, T beta_a, T beta_b) {
  const T scale = grad_loss[0] * two_over_n;
  for (int64_t k = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; k < n; k += int64_t(gridDim.x) * blockDim.x) {
    const T g = scale * (a[k] - b[k]);
    if (da) stat::store_grad(da[k], g, beta_a);
    if (db) stat::store_grad(db[k], -g, beta_b);
  }
}

void mse_bwd_cuda(Stream& st, const Tensor& da, const Tensor& db, const Tensor& grad_loss, const Tensor& a,
                  const Tensor& b, double beta_a, double beta_b) {
  const int64_t n = a.numel();
  SP_DISPATCH_FLOAT(a.dtype(), "mse_loss backward", {
    using T = scalar_t;
    mse_bwd_kernel<T><<<grid_1d(n), kBlock, 0, cuda_stream(st)>>>(data_or_null<T>(da), data_or_null<T>(db),
                                                                  grad_loss.data<T>(), a.data<T>(), b.data<T>(), n,
                                                                  T(2.0 / double(n)), T(beta_a), T(beta_b));
  });
  SP_CUDA_LAUNCH_CHECK();
}

}  // namespace
SP_REGISTER_KERNEL(k_cross_entropy_fwd, CUDA, ce_fwd_cuda);
SP_REGISTER_KERNEL(k_cross_entropy_bwd, CUDA, ce_bwd_cuda);
SP_REGISTER_KERNEL(k_soft_cross_entropy_fwd, CUDA, soft_ce_fwd_cuda);
SP_REGISTER_KERNEL(k_soft_cross_entropy_bwd, CUDA, soft_ce_bwd_cuda);
SP_REGISTER_KERNEL(k_kl_div_fwd, CUDA, kl_fwd_cuda);
SP_REGISTER_KERNEL(k_kl_div_bwd, CUDA, kl_bwd_cuda);
SP_REGISTER_KERNEL(k_mse_fwd, CUDA, mse_fwd_cuda);
SP_REGISTER_KERNEL(k_mse_bwd, CUDA, mse_bwd_cuda);
}  // namespace sp
