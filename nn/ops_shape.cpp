// concat and upsample_nearest autograd ops (see ops_shape.h).
#include "nn/ops_shape.h"

#include "kernels/concat.h"
#include "kernels/upsample.h"
#include "nn/op_registry.h"

namespace sp::ag {

SP_REGISTER_OP(concat);
SP_REGISTER_OP(upsample_nearest);

namespace {
// Gradient buffers that share memory: the same input listed twice, or overlapping views of one flat
// parameter vector. Such writes must not go into one concurrent launch.
bool overlap(const Tensor& a, const Tensor& b) {
  if (a.storage() != b.storage() || a.numel() == 0 || b.numel() == 0) return false;
  return a.offset() < b.offset() + b.numel() && b.offset() < a.offset() + a.numel();
}
}  // namespace

Var concat(Tape& t, const std::vector<Var>& xs, int axis) {
  Stream& s = t.stream();
  std::vector<Tensor> parts;
  for (Var v : xs) parts.push_back(t.value(v).contiguous(s));
  Shape shape = concat_shape(parts, axis);  // throws when there are no inputs
  Tensor y = Tensor::empty(shape, parts[0].dtype(), s);
  concat(s, y, parts, axis);
  std::vector<int64_t> starts;
  int64_t start = 0;
  int d = y.shape().axis(axis, "concat");
  for (const Tensor& p : parts) {
    starts.push_back(start);
    start += p.size(d);
  }
  return t.record(y, std::span<const Var>(xs), [starts, d](BackwardCtx& c) {
    std::vector<ConcatGrad> batch;
    for (size_t i = 0; i < starts.size(); ++i) {
      if (!c.needs(int(i))) continue;
      // Sinks are taken one at a time: an input listed twice gets beta 1 the second time, and its
      // buffer is then written after the launch holding the first write.
      GradSink g = c.sink(int(i));
      for (const ConcatGrad& b : batch) {
        if (!overlap(b.grad, g.t)) continue;
        concat_backward(c.stream(), batch, c.grad_out(), d);
        batch.clear();
        break;
      }
      batch.push_back({g.t, starts[i], g.beta});
    }
    if (!batch.empty()) concat_backward(c.stream(), batch, c.grad_out(), d);
  });
}

Var upsample_nearest(Tape& t, Var x, int64_t sh, int64_t sw) {
  Stream& s = t.stream();
  Tensor xv = t.value(x).contiguous(s);
  Tensor y = Tensor::empty(upsample_nearest_shape(xv.shape(), sh, sw), xv.dtype(), s);
  upsample_nearest(s, y, xv, sh, sw);
  return t.record(y, {x}, [sh, sw](BackwardCtx& c) {
    if (!c.needs(0)) return;
    GradSink g = c.sink(0);
    upsample_nearest_backward(c.stream(), g.t, c.grad_out(), sh, sw, g.beta);
  });
}

}  // namespace sp::ag
