// dsa::apply (see dsa.h): builds one drawn augmentation from tape ops on the images' device. The draw's
// per-sample numbers become constant leaves ([N, 1, 1, 1] factors, an [N, 1, H, W] cutout mask, remap
// parameters, sampling grids), so the result is differentiable w.r.t. x only, to any order.
#include <algorithm>

#include "kernels/grid_sample.h"
#include "nn/dsa.h"
#include "nn/ops_augment.h"
#include "nn/ops_elementwise.h"
#include "nn/ops_reduce.h"

namespace sp::dsa {

namespace {

// A host vector as a constant tensor of dtype dt on the stream's device.
Tensor device_constant(Stream& s, const std::vector<double>& v, const Shape& shape, DType dt) {
  return Tensor::from_vector(v, shape).to(dt).to(s.device(), s);
}

Tensor remap_params(Stream& s, const AugDraw& d) {
  std::vector<int32_t> p(size_t(d.n) * 3, 0);
  for (size_t i = 0; i < size_t(d.n); ++i) {
    if (d.group == Group::crop) {
      p[i * 3 + 0] = d.shift_y[i];
      p[i * 3 + 1] = d.shift_x[i];
    } else {
      p[i * 3 + 2] = d.flip[i];
    }
  }
  return Tensor::from_vector(p, {d.n, 3}).to(s.device(), s);
}

// 1 everywhere except each sample's square, clipped to the image (upstream's clamped index grid zeroes
// exactly the clipped square, since the square always overlaps the image).
std::vector<double> cutout_mask(const AugDraw& d) {
  std::vector<double> m(size_t(d.n * d.h * d.w), 1.0);
  for (int64_t i = 0; i < d.n; ++i) {
    const int64_t y0 = d.cut_y[size_t(i)] - d.cut_h / 2, x0 = d.cut_x[size_t(i)] - d.cut_w / 2;
    for (int64_t y = std::max<int64_t>(y0, 0); y < std::min<int64_t>(y0 + d.cut_h, d.h); ++y)
      for (int64_t x = std::max<int64_t>(x0, 0); x < std::min<int64_t>(x0 + d.cut_w, d.w); ++x)
        m[size_t((i * d.h + y) * d.w + x)] = 0.0;
  }
  return m;
}

// (x - m) * f + m with m the mean of x over `axes` (kept) and f a per-sample constant.
Var blend_with_mean(Tape& t, Var x, const std::vector<int>& axes, Var f) {
  Var m = ag::mean(t, x, axes, true);
  return ag::add(t, ag::mul(t, ag::sub(t, x, m), f), m);
}

}  // namespace

Var apply(Tape& t, Var x, const AugDraw& d) {
  if (d.identity) return x;
  Stream& s = t.stream();
  const Tensor& xv = t.value(x);
  SP_CHECK(xv.dim() == 4 && xv.size(0) == d.n && xv.size(2) == d.h && xv.size(3) == d.w, "dsa::apply: images ",
           xv.shape(), " do not match the draw (", d.n, " images of ", d.h, "x", d.w, ", group ", group_name(d.group),
           ")");
  const DType dt = xv.dtype();
  const Shape per_sample{d.n, 1, 1, 1};
  switch (d.group) {
    case Group::color: {
      Var y = ag::add(t, x, t.leaf(device_constant(s, d.brightness, per_sample, dt)));
      y = blend_with_mean(t, y, {1}, t.leaf(device_constant(s, d.saturation, per_sample, dt)));
      return blend_with_mean(t, y, {1, 2, 3}, t.leaf(device_constant(s, d.contrast, per_sample, dt)));
    }
    case Group::crop:
    case Group::flip:
      return ag::remap(t, x, remap_params(s, d));
    case Group::cutout:
      return ag::mul(t, x, t.leaf(device_constant(s, cutout_mask(d), {d.n, 1, d.h, d.w}, dt)));
    case Group::scale:
    case Group::rotate: {
      // align_corners = true: MTT/DATM parity (DC's implicit default would be false).
      Tensor theta = device_constant(s, affine_theta(d), {d.n, 2, 3}, dt);
      return ag::grid_sample(t, x, affine_grid_tensor(s, theta, d.h, d.w, true), true);
    }
  }
  SP_FAIL("dsa::apply: unknown group ", int(d.group));
}

}  // namespace sp::dsa
