// concat, narrow, permute and upsample autograd ops (see ops_shape.h).
#include "nn/ops_shape.h"

#include "kernels/axpby.h"
#include "kernels/concat.h"
#include "kernels/upsample.h"
#include "nn/op_registry.h"

namespace sp::ag {

SP_REGISTER_OP(concat);
SP_REGISTER_OP(narrow);
SP_REGISTER_OP(permute);
SP_REGISTER_OP(upsample_nearest);
SP_REGISTER_OP(upsample_nearest_grad);

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
  std::vector<int64_t> starts, lens;
  int64_t start = 0;
  int d = y.shape().axis(axis, "concat");
  for (const Tensor& p : parts) {
    starts.push_back(start);
    lens.push_back(p.size(d));
    start += p.size(d);
  }
  return t.record(
      "concat", y, std::span<const Var>(xs),
      [starts, d](BackwardCtx& c) {
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
      },
      [starts, lens, d](DiffBackwardCtx& c) {
        for (size_t i = 0; i < starts.size(); ++i)
          if (c.needs(int(i))) c.add(int(i), narrow(c.tape(), c.grad_out(), d, starts[i], lens[i]));
      });
}

Var narrow(Tape& t, Var x, int axis, int64_t start, int64_t len) {
  Stream& s = t.stream();
  const Tensor& xv = t.value(x);
  const int d = xv.shape().axis(axis, "narrow");
  SP_CHECK(start >= 0 && len >= 0 && start + len <= xv.size(d), "narrow: [", start, ", ", start + len,
           ") is outside axis ", axis, " of ", xv.str());
  Tensor y = xv.narrow(d, start, len).contiguous(s);
  const Shape in_shape = xv.shape();
  return t.record(
      "narrow", y, {x},
      [d, start, len, in_shape](BackwardCtx& c) {
        if (!c.needs(0)) return;
        GradSink g = c.sink(0);
        Stream& s = c.stream();
        // The gradient padded with zeros to the input's shape (one concat), then accumulated.
        std::vector<Tensor> parts;
        auto zeros = [&](int64_t n) {
          Shape sh = in_shape;
          sh[d] = n;
          parts.push_back(Tensor::zeros(sh, g.t.dtype(), s));
        };
        if (start > 0) zeros(start);
        parts.push_back(c.grad_out().contiguous(s));
        if (start + len < in_shape[d]) zeros(in_shape[d] - start - len);
        if (g.beta == 0.0f) {
          concat(s, g.t, parts, d);
        } else {
          Tensor full = Tensor::empty(in_shape, g.t.dtype(), s);
          concat(s, full, parts, d);
          axpby(s, g.t, full, 1.0, 1.0);
        }
      },
      [d, start, len, in_shape](DiffBackwardCtx& c) {
        Tape& t = c.tape();
        const Tensor& gv = t.value(c.grad_out());
        std::vector<Var> pieces;
        auto zeros = [&](int64_t n) {
          Shape sh = in_shape;
          sh[d] = n;
          pieces.push_back(t.leaf(Tensor::zeros(sh, gv.dtype(), t.stream())));
        };
        if (start > 0) zeros(start);
        pieces.push_back(c.grad_out());
        if (start + len < in_shape[d]) zeros(in_shape[d] - start - len);
        c.add(0, pieces.size() == 1 ? pieces[0] : concat(t, pieces, d));
      });
}

Var permute(Tape& t, Var x, const Shape& order) {
  Stream& s = t.stream();
  const Tensor& xv = t.value(x);
  SP_CHECK(order.size() == xv.dim(), "permute: order ", order, " does not name the ", xv.dim(), " axes of ", xv.str());
  Shape inverse = order;
  for (int i = 0; i < order.size(); ++i) {
    SP_CHECK(order[i] >= 0 && order[i] < xv.dim(), "permute: order ", order, " is not a permutation of the axes of ",
             xv.str());
    inverse[int(order[i])] = i;
  }
  Tensor y = xv.permute(order).contiguous(s);  // Tensor::permute rejects repeated axes
  return t.record(
      "permute", y, {x},
      [inverse](BackwardCtx& c) {
        if (!c.needs(0)) return;
        GradSink g = c.sink(0);
        Stream& s = c.stream();
        axpby(s, g.t, c.grad_out().permute(inverse).contiguous(s), 1.0, g.beta);
      },
      [inverse](DiffBackwardCtx& c) { c.add(0, permute(c.tape(), c.grad_out(), inverse)); });
}

Var to_layout(Tape& t, Var x, Layout to) {
  SP_CHECK(t.value(x).dim() == 4, "to_layout: activation ", t.value(x).str(), " must be 4-D to become ", to);
  return permute(t, x, to == Layout::nhwc ? Shape{0, 2, 3, 1} : Shape{0, 3, 1, 2});
}

Var upsample_nearest(Tape& t, Var x, int64_t sh, int64_t sw) {
  Stream& s = t.stream();
  Tensor xv = t.value(x).contiguous(s);
  Tensor y = Tensor::empty(upsample_nearest_shape(xv.shape(), sh, sw), xv.dtype(), s);
  upsample_nearest(s, y, xv, sh, sw);
  return t.record(
      "upsample_nearest", y, {x},
      [sh, sw](BackwardCtx& c) {
        if (!c.needs(0)) return;
        GradSink g = c.sink(0);
        upsample_nearest_backward(c.stream(), g.t, c.grad_out(), sh, sw, g.beta);
      },
      [sh, sw](DiffBackwardCtx& c) { c.add(0, upsample_nearest_grad(c.tape(), c.grad_out(), sh, sw)); });
}

Var upsample_nearest_grad(Tape& t, Var gy, int64_t sh, int64_t sw) {
  Stream& s = t.stream();
  Tensor gv = t.value(gy).contiguous(s);
  SP_CHECK(gv.dim() == 4 && sh >= 1 && sw >= 1 && gv.size(2) % sh == 0 && gv.size(3) % sw == 0,
           "upsample_nearest_grad: ", gv.str(), " is not [N, C, H*", sh, ", W*", sw, "]");
  Tensor x = Tensor::empty({gv.size(0), gv.size(1), gv.size(2) / sh, gv.size(3) / sw}, gv.dtype(), s);
  upsample_nearest_backward(s, x, gv, sh, sw, 0.0);
  return t.record(
      "upsample_nearest_grad", x, {gy},
      [sh, sw](BackwardCtx& c) {
        if (!c.needs(0)) return;
        GradSink g = c.sink(0);
        Stream& s = c.stream();
        if (g.beta == 0.0f) {
          upsample_nearest(s, g.t, c.grad_out().contiguous(s), sh, sw);
        } else {
          Tensor u = Tensor::empty(g.t.shape(), g.t.dtype(), s);
          upsample_nearest(s, u, c.grad_out().contiguous(s), sh, sw);
          axpby(s, g.t, u, 1.0, 1.0);
        }
      },
      [sh, sw](DiffBackwardCtx& c) { c.add(0, upsample_nearest(c.tape(), c.grad_out(), sh, sw)); });
}

}  // namespace sp::ag
