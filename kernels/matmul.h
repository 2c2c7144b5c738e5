// General matrix multiply, the kernel under matmul, linear and the CPU convolution:
//   C[b] = alpha * op(A[b]) * op(B[b]) + beta * C[b],   op(X) = X or X^T,
// over row-major contiguous 2-D matrices or 3-D stacks of them (same batch). f32 and f64 on both backends;
// bf16 inputs/outputs with f32 accumulation (CUDA: cublasGemmEx; CPU: converted to f32). On CUDA, f32
// uses TF32 tensor cores when Stream::allow_tf32 is set, else full-precision fp32. beta 0 never reads C.
// Tested in tests/test_ops_matmul.cpp (against naive loops) and tests/gpu/test_ops_matmul_gpu.cpp.
#pragma once
#include "kernels/registry.h"
#include "kernels/tensor.h"

namespace sp {

using GemmFn = void(Stream&, const Tensor& c, const Tensor& a, const Tensor& b, bool trans_a, bool trans_b,
                    double alpha, double beta);
extern Kernel<GemmFn> k_gemm;

// Validating wrapper: ranks (2 or 3, all equal), batch and inner sizes, output shape, dtypes, devices,
// contiguity. `op` names the caller in error messages.
void gemm(Stream& s, const Tensor& c, const Tensor& a, const Tensor& b, bool trans_a, bool trans_b,
          double alpha = 1.0, double beta = 0.0, const char* op = "gemm");

}  // namespace sp
