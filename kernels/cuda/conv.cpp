// CUDA conv2d through cuDNN (see kernels/conv.h): each pass looks up its cached plan (descriptors and
// algorithm, kernels/cuda/cudnn_util.h), takes the stream's workspace and runs with alpha 1 and the
// GradSink beta. Channels-last geometries run cuDNN's NHWC descriptors on the activations as they are.
// Compared with the CPU im2col reference in tests/gpu/test_ops_conv_gpu.cpp and tests/gpu/test_ops_nhwc_gpu.cpp.
#include "kernels/axpby.h"
#include "kernels/conv.h"
#include "kernels/cuda/cudnn_util.h"

namespace sp {
namespace {

using cudnn::ConvPass;

// cuDNN scaling factors are float for float data and double for double data.
struct Scale {
  float f[2];
  double d[2];
  Scale(DType dt, double alpha, double beta) : f{float(alpha), float(beta)}, d{alpha, beta}, is_double(dt == DType::f64) {}
  const void* alpha() const { return is_double ? static_cast<const void*>(&d[0]) : &f[0]; }
  const void* beta() const { return is_double ? static_cast<const void*>(&d[1]) : &f[1]; }
  bool is_double;
};

void* workspace(Stream& s, size_t bytes) { return bytes ? cuda_workspace(s, bytes) : nullptr; }

// Channels-last plans take [O, kh, kw, C/groups] filters (cudnn_util.h); the parameters stay [O, C/groups,
// kh, kw], so the filters are permuted once per call (a small tensor next to the activations).
Tensor plan_filters(Stream& s, const Tensor& w, const Conv2dGeom& g) {
  return g.layout == Layout::nhwc ? w.permute({0, 2, 3, 1}).contiguous(s) : w;
}

void conv_fwd_cuda(Stream& s, const Tensor& y, const Tensor& x, const Tensor& w, const Conv2dGeom& g) {
  const Tensor wp = plan_filters(s, w, g);
  const auto& p = cudnn::conv_plan(s, g, x.dtype(), ConvPass::Forward, {x.raw_data(), wp.raw_data()});
  Scale k(x.dtype(), 1.0, 0.0);
  SP_CUDNN_CHECK(cudnnConvolutionForward(cudnn_handle(s), k.alpha(), p.x, x.raw_data(), p.w, wp.raw_data(),
                                         p.conv[0], p.fwd_algo, workspace(s, p.workspace[0]), p.workspace[0], k.beta(),
                                         p.y, y.raw_data()));
}

void conv_bwd_data_cuda(Stream& s, const Tensor& dx, const Tensor& gy, const Tensor& w, const Conv2dGeom& g,
                        double beta) {
  const Tensor wp = plan_filters(s, w, g);
  const auto& p = cudnn::conv_plan(s, g, gy.dtype(), ConvPass::BackwardData, {wp.raw_data(), gy.raw_data()});
  Scale k(gy.dtype(), 1.0, beta);
  SP_CUDNN_CHECK(cudnnConvolutionBackwardData(cudnn_handle(s), k.alpha(), p.w, wp.raw_data(), p.y, gy.raw_data(),
                                              p.conv[1], p.data_algo, workspace(s, p.workspace[1]), p.workspace[1],
                                              k.beta(), p.x, dx.raw_data()));
}

void conv_bwd_filter_cuda(Stream& s, const Tensor& dw, const Tensor& gy, const Tensor& x, const Conv2dGeom& g,
                          double beta) {
  const auto& p = cudnn::conv_plan(s, g, gy.dtype(), ConvPass::BackwardFilter, {x.raw_data(), gy.raw_data()});
  const bool last = g.layout == Layout::nhwc;
  // Channels-last: the gradient in the plan's [O, kh, kw, C/groups], then permuted into dw with beta.
  const Tensor out = last ? Tensor::empty({g.o, g.kh, g.kw, g.c / g.groups}, dw.dtype(), s) : dw;
  Scale k(gy.dtype(), 1.0, last ? 0.0 : beta);
  SP_CUDNN_CHECK(cudnnConvolutionBackwardFilter(cudnn_handle(s), k.alpha(), p.x, x.raw_data(), p.y, gy.raw_data(),
                                                p.conv[2], p.filter_algo, workspace(s, p.workspace[2]),
                                                p.workspace[2], k.beta(), p.w, out.raw_data()));
  if (last) axpby(s, dw, out.permute({0, 3, 1, 2}).contiguous(s), 1.0, beta);
}

}  // namespace
SP_REGISTER_KERNEL(k_conv2d_fwd, CUDA, conv_fwd_cuda);
SP_REGISTER_KERNEL(k_conv2d_bwd_data, CUDA, conv_bwd_data_cuda);
SP_REGISTER_KERNEL(k_conv2d_bwd_filter, CUDA, conv_bwd_filter_cuda);
}  // namespace sp
