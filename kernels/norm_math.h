// Per-element formulas of batch and group normalisation, shared by kernels/cpu/{batchnorm,groupnorm}.cpp
// and their CUDA twins, plus the [N, C, *] geometry both families validate. Normalisation writes
// y = (x - mean) * invstd * w + b; the input gradient of any mean/variance normalisation is
// dx = invstd * (w dy - mean(dxhat) - xhat * mean(dxhat * xhat)) with dxhat = w dy and the means taken over
// the elements that share the statistics (zero for eval-mode batch norm, whose statistics are constants).
// Tested through tests/test_ops_norm.cpp.
#pragma once
#include <cstdint>

#include "kernels/fast_div.h"
#include "kernels/stat_math.h"
#include "kernels/tensor.h"

namespace sp {

template <class T>
SP_HD T norm_invstd(T var, T eps) {
  return T(1) / stat::sqrt_(var + eps);
}

template <class T>
SP_HD T norm_affine(T x, T mean, T invstd, T w, T b) {
  return (x - mean) * invstd * w + b;
}

template <class T>
SP_HD T norm_backward_dx(T dy, T xhat, T w, T invstd, T mean_dxhat, T mean_dxhat_xhat) {
  return invstd * (w * dy - mean_dxhat - xhat * mean_dxhat_xhat);
}

// Batch norm's fused epilogue (kernels/batchnorm.h): the activation applied to v, the normalised value plus
// the residual when there is one; ReLU exactly as act_forward<Act::relu> (NaN and -0 pass through).
template <class T>
SP_HD T norm_epilogue(T v, bool relu) {
  return relu && v < T(0) ? T(0) : v;
}

// The gradient that reaches the normalisation (and the residual) through the epilogue: dy where the forward's
// output y is positive (ReLU's derivative, 0 at 0, as act_backward<Act::relu>; y > 0 exactly where its input was).
template <class T>
SP_HD T norm_epilogue_grad(T dy, T y, bool relu) {
  return !relu || y > T(0) ? dy : T(0);
}

// PyTorch's running-statistic update (running_var receives the unbiased batch variance).
template <class T>
SP_HD T running_update(T running, T batch, T momentum) {
  return momentum * batch + (T(1) - momentum) * running;
}

// Element pointer of an optional tensor (nullptr when undefined).
template <class T>
T* data_or_null(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

// x viewed as [N, C, HW] (HW = product of the trailing dims, 1 for [N, C]).
struct NormDims {
  int64_t N = 0, C = 0, HW = 0;
  int64_t numel() const { return N * C * HW; }
};
inline NormDims norm_dims(const char* op, const Tensor& x) {
  SP_CHECK(x.dim() >= 2, op, ": input ", x.str(), " must be [N, C, *]");
  SP_CHECK(x.numel() > 0, op, ": empty input ", x.str());
  NormDims d;
  d.N = x.size(0);
  d.C = x.size(1);
  d.HW = x.numel() / (d.N * d.C);
  return d;
}

// Channel of element k of a contiguous [N, C, HW] tensor, for the CUDA elementwise passes.
struct ChannelOf {
  IndexDiv by_hw, by_c;
  int64_t C = 1;
  explicit ChannelOf(const NormDims& d) : by_hw(d.HW, d.numel()), by_c(d.C, d.N * d.C), C(d.C) {}
  SP_HD int64_t operator()(int64_t k) const {
    int64_t p = by_hw.div(k);
    return p - by_c.div(p) * C;
  }
};

}  // namespace sp
