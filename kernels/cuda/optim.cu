// CUDA optimiser steps (see kernels/optim.h): one fused grid-stride kernel per step over the shared
// per-element update; thread 0 of each block turns the device scalars {lr, step} into the step's scalars
// once for its block. Compared with the CPU twin in tests/gpu/test_optim_gpu.cpp.
#include "kernels/cuda/cuda_context.h"
#include "kernels/dispatch.h"
#include "kernels/optim.h"

namespace sp {
namespace {

// Decay flag of element i: no mask, a full mask (mask_n == n), or one row broadcast over a stack.
__device__ __forceinline__ bool decay_at(const uint8_t* mask, int64_t mask_n, int64_t n, int64_t i) {
  if (!mask) return true;
  return mask[mask_n == n ? i : i % mask_n] != 0;
}

template <class T>
__global__ void sgd_kernel(T* __restrict__ p, T* __restrict__ buf, const T* __restrict__ g,
                           const uint8_t* __restrict__ mask, int64_t mask_n, const double* __restrict__ hyper,
                           SgdStepArgs args, int64_t n) {
  __shared__ SgdScalars<T> a;
  if (threadIdx.x == 0) a = sgd_scalars<T>(args, hyper[0], hyper[1]);
  __syncthreads();
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    T pi = p[i];
    sgd_update(pi, g[i], buf ? buf + i : nullptr, a, decay_at(mask, mask_n, n, i));
    p[i] = pi;
  }
}

template <class T>
__global__ void adam_kernel(T* __restrict__ p, T* __restrict__ m, T* __restrict__ v, const T* __restrict__ g,
                            const uint8_t* __restrict__ mask, int64_t mask_n, const double* __restrict__ hyper,
                            AdamStepArgs args, int64_t n) {
  __shared__ AdamScalars<T> a;
  if (threadIdx.x == 0) a = adam_scalars<T>(args, hyper[0], hyper[1]);
  __syncthreads();
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    T pi = p[i], mi = m[i], vi = v[i];
    adam_update(pi, g[i], mi, vi, a, decay_at(mask, mask_n, n, i));
    p[i] = pi;
    m[i] = mi;
    v[i] = vi;
  }
}

const uint8_t* mask_ptr(const Tensor& mask) { return mask.defined() ? mask.data<uint8_t>() : nullptr; }
int64_t mask_len(const Tensor& mask) { return mask.defined() ? mask.numel() : 0; }

void sgd_step_cuda(Stream& s, const Tensor& param, const Tensor& momentum_buf, const Tensor& grad,
                   const Tensor& decay_mask, const Tensor& hyper, const SgdStepArgs& args) {
  int64_t n = param.numel();
  SP_DISPATCH_FLOAT(param.dtype(), "sgd_step", {
    scalar_t* buf = args.momentum != 0 ? momentum_buf.data<scalar_t>() : nullptr;
    sgd_kernel<scalar_t><<<grid_1d(n), kBlock, 0, cuda_stream(s)>>>(
        param.data<scalar_t>(), buf, grad.data<scalar_t>(), mask_ptr(decay_mask), mask_len(decay_mask),
        hyper.data<double>(), args, n);
  });
  SP_CUDA_LAUNCH_CHECK();
}

void adam_step_cuda(Stream& s, const Tensor& param, const Tensor& exp_avg, const Tensor& exp_avg_sq,
                    const Tensor& grad, const Tensor& decay_mask, const Tensor& hyper, const AdamStepArgs& args) {
  int64_t n = param.numel();
  SP_DISPATCH_FLOAT(param.dtype(), "adam_step", {
    adam_kernel<scalar_t><<<grid_1d(n), kBlock, 0, cuda_stream(s)>>>(
        param.data<scalar_t>(), exp_avg.data<scalar_t>(), exp_avg_sq.data<scalar_t>(), grad.data<scalar_t>(),
        mask_ptr(decay_mask), mask_len(decay_mask), hyper.data<double>(), args, n);
  });
  SP_CUDA_LAUNCH_CHECK();
}

}  // namespace
SP_REGISTER_KERNEL(k_sgd_step, CUDA, sgd_step_cuda);
SP_REGISTER_KERNEL(k_adam_step, CUDA, adam_step_cuda);
}  // namespace sp
