// Scalar losses with PyTorch's semantics, each fused into row kernels (no materialised log-probabilities):
//   cross entropy, hard labels: logits [N, C], int64 labels [N], mean over N, label smoothing eps:
//     loss_i = (1 - eps) (-log p_{i,y_i}) + eps mean_j(-log p_ij);
//   cross entropy, soft targets [N, C]: loss = mean_i -sum_j t'_ij log p_ij, t' = (1 - eps) t + eps / C;
//   distillation KL: T^2 / N sum_i KL(softmax(teacher_i / T) || softmax(student_i / T));
//   mse: mean((a - b)^2).
// Losses are 0-dim tensors. Forwards save per-row statistics (log-sum-exp, ...) for the backwards, which
// read the upstream gradient from a device scalar (no host synchronisation) and follow the GradSink rule
// out = result + beta * out. A label outside [0, C) is an sp::Error naming the row on the CPU; on the GPU
// (where checking would need a host sync) that row's loss and gradient are NaN instead.
// CPU reference kernels/cpu/loss.cpp, CUDA kernels/cuda/loss.cu; tested in tests/test_ops_loss.cpp and
// tests/gpu/test_ops_loss_gpu.cpp.
#pragma once
#include "kernels/registry.h"
#include "kernels/tensor.h"

namespace sp {

using CrossEntropyFwdFn = void(Stream&, const Tensor& loss, const Tensor& lse, const Tensor& logits,
                               const Tensor& labels, double smoothing);
using CrossEntropyBwdFn = void(Stream&, const Tensor& dlogits, const Tensor& grad_loss, const Tensor& logits,
                               const Tensor& labels, const Tensor& lse, double smoothing, double beta);
// target_sum[i] = sum_j t'_ij, saved for the backward.
using SoftCrossEntropyFwdFn = void(Stream&, const Tensor& loss, const Tensor& lse, const Tensor& target_sum,
                                   const Tensor& logits, const Tensor& targets, double smoothing);
// dlogits or dtargets may be undefined (not wanted).
using SoftCrossEntropyBwdFn = void(Stream&, const Tensor& dlogits, const Tensor& dtargets, const Tensor& grad_loss,
                                   const Tensor& logits, const Tensor& targets, const Tensor& lse,
                                   const Tensor& target_sum, double smoothing, double beta_logits, double beta_targets);
// lse_s / lse_t: log-sum-exp of student / T and teacher / T per row; row_kl: the per-row KL.
using KlDivFwdFn = void(Stream&, const Tensor& loss, const Tensor& lse_s, const Tensor& lse_t, const Tensor& row_kl,
                        const Tensor& student, const Tensor& teacher, double temperature);
using KlDivBwdFn = void(Stream&, const Tensor& dstudent, const Tensor& dteacher, const Tensor& grad_loss,
                        const Tensor& student, const Tensor& teacher, const Tensor& lse_s, const Tensor& lse_t,
                        const Tensor& row_kl, double temperature, double beta_s, double beta_t);
using MseFwdFn = void(Stream&, const Tensor& loss, const Tensor& a, const Tensor& b);
using MseBwdFn = void(Stream&, const Tensor& da, const Tensor& db, const Tensor& grad_loss, const Tensor& a,
                      const Tensor& b, double beta_a, double beta_b);

extern Kernel<CrossEntropyFwdFn> k_cross_entropy_fwd;
extern Kernel<CrossEntropyBwdFn> k_cross_entropy_bwd;
extern Kernel<SoftCrossEntropyFwdFn> k_soft_cross_entropy_fwd;
extern Kernel<SoftCrossEntropyBwdFn> k_soft_cross_entropy_bwd;
extern Kernel<KlDivFwdFn> k_kl_div_fwd;
extern Kernel<KlDivBwdFn> k_kl_div_bwd;
extern Kernel<MseFwdFn> k_mse_fwd;
extern Kernel<MseBwdFn> k_mse_bwd;

// Validating wrappers (shapes, dtypes, devices, contiguity, smoothing in [0, 1], temperature > 0; labels
// int64 and, on the CPU, in range).
void cross_entropy_forward(Stream& s, const Tensor& loss, const Tensor& lse, const Tensor& logits, const Tensor& labels,
                           double smoothing);
void cross_entropy_backward(Stream& s, const Tensor& dlogits, const Tensor& grad_loss, const Tensor& logits,
                            const Tensor& labels, const Tensor& lse, double smoothing, double beta);
void soft_cross_entropy_forward(Stream& s, const Tensor& loss, const Tensor& lse, const Tensor& target_sum,
                                const Tensor& logits, const Tensor& targets, double smoothing);
void soft_cross_entropy_backward(Stream& s, const Tensor& dlogits, const Tensor& dtargets, const Tensor& grad_loss,
                                 const Tensor& logits, const Tensor& targets, const Tensor& lse,
                                 const Tensor& target_sum, double smoothing, double beta_logits, double beta_targets);
void kl_div_forward(Stream& s, const Tensor& loss, const Tensor& lse_s, const Tensor& lse_t, const Tensor& row_kl,
                    const Tensor& student, const Tensor& teacher, double temperature);
void kl_div_backward(Stream& s, const Tensor& dstudent, const Tensor& dteacher, const Tensor& grad_loss,
                     const Tensor& student, const Tensor& teacher, const Tensor& lse_s, const Tensor& lse_t,
                     const Tensor& row_kl, double temperature, double beta_s, double beta_t);
void mse_forward(Stream& s, const Tensor& loss, const Tensor& a, const Tensor& b);
void mse_backward(Stream& s, const Tensor& da, const Tensor& db, const Tensor& grad_loss, const Tensor& a,
                  const Tensor& b, double beta_a, double beta_b);

}  // namespace sp
