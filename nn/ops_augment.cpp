// grid_sample / grid_sample_grad and remap / remap_grad on the tape (see ops_augment.h). Each pair are
// adjoints of one another; because each kernel writes `out = result + beta * out`, each op's first-order
// backward runs its partner's kernel straight into the gradient sink, and its differentiable backward is
// its partner op.
#include "nn/ops_augment.h"

#include "nn/op_registry.h"

namespace sp::ag {

SP_REGISTER_OP(grid_sample);
SP_REGISTER_OP(grid_sample_grad);
SP_REGISTER_OP(remap);
SP_REGISTER_OP(remap_grad);

Var grid_sample(Tape& t, Var x, const Tensor& grid, bool align_corners) {
  Stream& s = t.stream();
  Tensor xv = t.value(x).contiguous(s);
  GridSampleGeom g = grid_sample_geometry("grid_sample", xv, grid, align_corners);
  Tensor y = Tensor::empty({g.n, g.c, g.oh, g.ow}, xv.dtype(), s);
  grid_sample_forward(s, y, xv, grid, g, 0.0);
  return t.record(
      "grid_sample", y, {x},
      [grid, g](BackwardCtx& c) {
        if (!c.needs(0)) return;
        GradSink d = c.sink(0);
        grid_sample_backward(c.stream(), d.t, c.grad_out().contiguous(c.stream()), grid, g, d.beta);
      },
      [grid, g](DiffBackwardCtx& c) {
        c.add(0, grid_sample_grad(c.tape(), c.grad_out(), grid, g.h, g.w, g.align_corners));
      });
}

Var grid_sample_grad(Tape& t, Var gy, const Tensor& grid, int64_t h, int64_t w, bool align_corners) {
  Stream& s = t.stream();
  Tensor gv = t.value(gy).contiguous(s);
  SP_CHECK(gv.dim() == 4, "grid_sample_grad: output gradient must be 4-D NCHW, got ", gv.shape());
  SP_CHECK(h >= 1 && w >= 1, "grid_sample_grad: input size ", h, "x", w, " must be positive (gradient ", gv.shape(),
           ")");
  SP_CHECK(grid.defined() && grid.dim() == 4 && grid.size(0) == gv.size(0) && grid.size(1) == gv.size(2) &&
               grid.size(2) == gv.size(3) && grid.size(3) == 2,
           "grid_sample_grad: grid ", grid.defined() ? grid.str() : std::string("(undefined)"),
           " does not match the output gradient ", gv.shape(), " (want [N, OH, OW, 2])");
  GridSampleGeom g;
  g.n = gv.size(0), g.c = gv.size(1), g.h = h, g.w = w, g.oh = gv.size(2), g.ow = gv.size(3);
  g.align_corners = align_corners;
  Tensor dx = Tensor::empty({g.n, g.c, g.h, g.w}, gv.dtype(), s);
  grid_sample_backward(s, dx, gv, grid, g, 0.0);
  return t.record(
      "grid_sample_grad", dx, {gy},
      [grid, g](BackwardCtx& c) {
        if (!c.needs(0)) return;
        GradSink d = c.sink(0);
        grid_sample_forward(c.stream(), d.t, c.grad_out().contiguous(c.stream()), grid, g, d.beta);
      },
      [grid, g](DiffBackwardCtx& c) { c.add(0, grid_sample(c.tape(), c.grad_out(), grid, g.align_corners)); });
}

namespace {

// remap in one direction on the tape; `inverse` picks the adjoint. Both ops are this with opposite flags.
Var remap_dir(Tape& t, Var x, const Tensor& params, bool inverse) {
  Stream& s = t.stream();
  const char* op = inverse ? "remap_grad" : "remap";
  Tensor xv = t.value(x).contiguous(s);
  Tensor y = Tensor::empty(xv.shape(), xv.dtype(), s);
  remap_forward(s, y, xv, params, inverse, 0.0, op);
  return t.record(
      op, y, {x},
      [params, inverse, op](BackwardCtx& c) {
        if (!c.needs(0)) return;
        GradSink d = c.sink(0);
        remap_forward(c.stream(), d.t, c.grad_out().contiguous(c.stream()), params, !inverse, d.beta, op);
      },
      [params, inverse](DiffBackwardCtx& c) { c.add(0, remap_dir(c.tape(), c.grad_out(), params, !inverse)); });
}

}  // namespace

Var remap(Tape& t, Var x, const Tensor& params) { return remap_dir(t, x, params, false); }
Var remap_grad(Tape& t, Var gy, const Tensor& params) { return remap_dir(t, gy, params, true); }

}  // namespace sp::ag
