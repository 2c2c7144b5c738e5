// The statistics a training-mode normalisation forward saves for x (nn/ops_norm.h's NormStats), computed by
// the forward kernels on x's stream, for tests of the normalisation-gradient ops: tests compute them inside
// each evaluation, so finite differences see them move with x as they do in a network. Used by
// tests/test_ops_second_order.cpp and tests/gpu/test_ops_second_order_gpu.cpp.
#pragma once
#include "kernels/batchnorm.h"
#include "kernels/groupnorm.h"
#include "nn/ops_norm.h"

namespace sp::test {

inline ag::NormStats norm_stats_for(Stream& s, const Tensor& x, bool batch, int64_t groups) {
  Tensor y = Tensor::empty(x.shape(), x.dtype(), s);
  ag::NormStats st;
  st.batch = batch;
  st.groups = groups;
  st.mean = Tensor::empty(batch ? Shape{x.size(1)} : Shape{x.size(0), groups}, x.dtype(), s);
  st.invstd = Tensor::empty(st.mean.shape(), x.dtype(), s);
  if (batch) {
    BatchNormFwdArgs a;
    a.y = y;
    a.save_mean = st.mean;
    a.save_invstd = st.invstd;
    a.x = x;
    a.eps = st.eps;
    batch_norm_forward(s, a);
  } else {
    GroupNormFwdArgs a;
    a.y = y;
    a.save_mean = st.mean;
    a.save_invstd = st.invstd;
    a.x = x;
    a.groups = groups;
    a.eps = st.eps;
    group_norm_forward(s, a);
  }
  return st;
}

}  // namespace sp::test
