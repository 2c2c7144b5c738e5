// CPU concat and its backward (see kernels/concat.h); index math in kernels/shape_math.h.
#include "kernels/concat.h"
#include "kernels/dispatch.h"
#include "kernels/elementwise_math.h"
#include "kernels/shape_math.h"

namespace sp {
namespace {

void concat_cpu(Stream&, const Tensor& out, std::span<const Tensor> parts, int axis) {
  ConcatGeom g = concat_geom(out.shape(), axis);
  int64_t row = g.total * g.inner, start = 0;
  SP_DISPATCH_FLOAT(out.dtype(), "concat", {
    scalar_t* o = out.data<scalar_t>();
    for (const Tensor& p : parts) {
      const scalar_t* src = p.data<scalar_t>();
      int64_t seg = p.size(axis) * g.inner, n = g.outer * seg;
      for (int64_t e = 0; e < n; ++e) o[concat_out_index(e, seg, start * g.inner, row)] = src[e];
      start += p.size(axis);
    }
  });
}

void concat_backward_cpu(Stream&, std::span<const ConcatGrad> grads, const Tensor& gy, int axis) {
  ConcatGeom g = concat_geom(gy.shape(), axis);
  int64_t row = g.total * g.inner;
  SP_DISPATCH_FLOAT(gy.dtype(), "concat_backward", {
    const scalar_t* src = gy.data<scalar_t>();
    for (const ConcatGrad& cg : grads) {
      scalar_t* dst = cg.grad.data<scalar_t>();
      scalar_t beta = scalar_t(cg.beta);
      int64_t seg = cg.grad.size(axis) * g.inner, n = g.outer * seg;
      for (int64_t e = 0; e < n; ++e)
        dst[e] = blend(src[concat_out_index(e, seg, cg.start * g.inner, row)], scalar_t(1), beta, dst + e);
    }
  });
}

}  // namespace

SP_REGISTER_KERNEL(k_concat, CPU, concat_cpu);
SP_REGISTER_KERNEL(k_concat_backward, CPU, concat_backward_cpu);

}  // namespace sp
