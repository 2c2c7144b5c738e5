// Normalisation layers as tape ops, with PyTorch's semantics (F.batch_norm, F.group_norm, instance norm
// as group norm with one channel per group). Optional weight/bias: pass Var{} for "absent". Running
// statistics of batch norm are plain tensors (not tape values), read in eval mode and updated in place in
// training mode. Every op has a differentiable backward (any order): in training mode it is the fused
// gradient ops below, whose backwards differentiate the batch statistics' dependence on x analytically;
// in eval mode the running statistics the forward used are constants. Kernels: kernels/batchnorm.h, kernels/groupnorm.h.
// Tested in tests/test_ops_norm.cpp (values against naive f64 formulas, running-stat updates, first- and
// second-order gradient checks, bad input), tests/test_ops_norm_act.cpp (the fused epilogue against the
// composition), tests/test_ops_second_order.cpp (the gradient ops) and their GPU twins.
#pragma once
#include "kernels/layout.h"
#include "nn/tape.h"

namespace sp::ag {

// x: [N, C, *] (layout nchw) or [N, H, W, C] (nhwc, channels last); weight, bias, running_mean, running_var:
// [C]. training: batch statistics (biased variance) and, when running stats are given, running <- (1 -
// momentum) running + momentum batch (unbiased variance for running_var); eval: running statistics, which
// must be given. Channels last hands the kernels x viewed as [N * H * W, C] (the same statistics), which keep
// the channels innermost (kernels/cpu/batchnorm_last.h, kernels/cuda/batchnorm.cu); the op itself and its
// gradients stay on the 4-D tensor (no tape reshapes, whose gradients would be zero-filled and accumulated).
Var batch_norm(Tape& t, Var x, Var weight, Var bias, const Tensor& running_mean, const Tensor& running_var,
               bool training, double momentum = 0.1, double eps = 1e-5, Layout layout = Layout::nchw);

// The epilogue batch_norm_act and group_norm_act fuse into the norm: y = relu(norm(x) + residual), each part
// optional.
struct NormEpilogue {
  Var residual;       // like x (and in x's layout); Var{}: none
  bool relu = false;
};

// batch_norm followed by its epilogue as one op, as a residual network applies them (nn/models/resnet18.cpp):
// the fused kernels of kernels/batchnorm.h make it one pass over the activations forward and two backward,
// and the tape keeps one tensor instead of three. Values and gradients (every order) are those of the
// unfused composition; on the CPU float32 fast path they are bit-identical to it.
Var batch_norm_act(Tape& t, Var x, Var weight, Var bias, const Tensor& running_mean, const Tensor& running_var,
                   bool training, const NormEpilogue& epilogue, double momentum = 0.1, double eps = 1e-5,
                   Layout layout = Layout::nchw);

// x: [N, C, *] with C divisible by groups; weight, bias: [C].
Var group_norm(Tape& t, Var x, int64_t groups, Var weight = {}, Var bias = {}, double eps = 1e-5);

// group_norm followed by its epilogue as one op (as batch_norm_act): relu(group_norm(x) + residual), each
// part optional; instance norm is groups = C. ConvNet-3 (nn/models/convnet3.cpp) applies it.
Var group_norm_act(Tape& t, Var x, int64_t groups, Var weight, Var bias, const NormEpilogue& epilogue,
                   double eps = 1e-5);

// group_norm with groups = C (each sample's channel normalised over its spatial positions).
Var instance_norm(Tape& t, Var x, Var weight = {}, Var bias = {}, double eps = 1e-5);

// The backward of training-mode normalisation as ops, so that second-order sweeps run the fused kernels and
// keep one tensor per layer instead of a composite's intermediates. `stats` names the layout and holds the
// statistics the forward saved (they are functions of x; the ops' own backward differentiates through
// them analytically). With P(z) = z - mean(z) - xhat mean(z xhat) over each statistics group and
// r = 1 / sqrt(var + eps):
//   norm_input_grad(gy, x, w) = r P(gy w)         (d loss / dx; w may be Var{}: no weight),
//   norm_weight_grad(gy, x)   = sum over N, * of gy xhat   ([C], d loss / dweight).
struct NormStats {
  bool batch = true;     // batch norm: a group is a channel over (N, *); else group norm: (sample, group)
  int64_t groups = 1;    // group norm
  Tensor mean, invstd;   // as the forward saved them: [C] (batch) or [N, groups] (group)
  double eps = 1e-5;
  Layout layout = Layout::nchw;  // batch norm: nhwc for channels-last [N, H, W, C] activations
};
Var norm_input_grad(Tape& t, Var gy, Var x, Var w, const NormStats& stats);
Var norm_weight_grad(Tape& t, Var gy, Var x, const NormStats& stats);

}  // namespace sp::ag
