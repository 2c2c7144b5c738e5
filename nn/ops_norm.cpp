// batch_norm, group_norm, instance_norm: forward through the kernels, backward closures that request only
// the gradients the tape needs (see ops_norm.h).
#include "nn/ops_norm.h"

#include <vector>

#include "kernels/batchnorm.h"
#include "kernels/groupnorm.h"
#include "nn/op_registry.h"

namespace sp::ag {

SP_REGISTER_OP(batch_norm);
SP_REGISTER_OP(group_norm);
SP_REGISTER_OP(instance_norm);

namespace {

// Tape inputs of a norm op: x first, then weight and bias when present (their positions, or -1).
struct NormInputs {
  std::vector<Var> vars;
  int weight = -1, bias = -1;
  NormInputs(Var x, Var w, Var b) : vars{x} {
    if (w.valid()) {
      weight = int(vars.size());
      vars.push_back(w);
    }
    if (b.valid()) {
      bias = int(vars.size());
      vars.push_back(b);
    }
  }
};

Tensor value_or_none(Tape& t, Var v) { return v.valid() ? t.value(v).contiguous(t.stream()) : Tensor(); }

// The requested gradient buffers of one backward call (undefined where not needed).
struct NormGrads {
  Tensor dx, dw, db;
  double bx = 0, bw = 0, bb = 0;
  NormGrads(BackwardCtx& c, int iw, int ib) {
    if (c.needs(0)) take(c, 0, dx, bx);
    if (iw >= 0 && c.needs(iw)) take(c, iw, dw, bw);
    if (ib >= 0 && c.needs(ib)) take(c, ib, db, bb);
  }
  static void take(BackwardCtx& c, int i, Tensor& t, double& beta) {
    GradSink g = c.sink(i);
    t = g.t;
    beta = g.beta;
  }
};

int64_t channels_of(const char* op, const Tensor& x) {
  SP_CHECK(x.dim() >= 2, op, ": input ", x.str(), " must be [N, C, *]");
  return x.size(1);
}

Var group_norm_op(Tape& t, Var x, int64_t groups, Var weight, Var bias, double eps, const char* op) {
  Stream& s = t.stream();
  Tensor xv = t.value(x).contiguous(s), wv = value_or_none(t, weight), bv = value_or_none(t, bias);
  channels_of(op, xv);
  SP_CHECK(groups >= 1, op, ": groups ", groups, " must be >= 1");
  Tensor y = Tensor::empty(xv.shape(), xv.dtype(), s);
  Tensor mean = Tensor::empty({xv.size(0), groups}, xv.dtype(), s);
  Tensor invstd = Tensor::empty({xv.size(0), groups}, xv.dtype(), s);
  group_norm_forward(s, y, mean, invstd, xv, wv, bv, groups, eps);
  NormInputs in(x, weight, bias);
  return t.record(op, y, in.vars, [xv, wv, mean, invstd, groups, iw = in.weight, ib = in.bias](BackwardCtx& c) {
    NormGrads g(c, iw, ib);
    group_norm_backward(c.stream(), g.dx, g.dw, g.db, c.grad_out().contiguous(c.stream()), xv, mean, invstd, wv, groups,
                        g.bx, g.bw, g.bb);
  }, {});
}

}  // namespace

Var batch_norm(Tape& t, Var x, Var weight, Var bias, const Tensor& running_mean, const Tensor& running_var,
               bool training, double momentum, double eps) {
  Stream& s = t.stream();
  Tensor xv = t.value(x).contiguous(s), wv = value_or_none(t, weight), bv = value_or_none(t, bias);
  const int64_t C = channels_of("batch_norm", xv);
  Tensor y = Tensor::empty(xv.shape(), xv.dtype(), s);
  Tensor mean = Tensor::empty({C}, xv.dtype(), s), invstd = Tensor::empty({C}, xv.dtype(), s);
  batch_norm_forward(s, y, mean, invstd, xv, wv, bv, running_mean, running_var, training, momentum, eps);
  NormInputs in(x, weight, bias);
  return t.record("batch_norm", y, in.vars, [xv, wv, mean, invstd, training, iw = in.weight, ib = in.bias](BackwardCtx& c) {
    NormGrads g(c, iw, ib);
    batch_norm_backward(c.stream(), g.dx, g.dw, g.db, c.grad_out().contiguous(c.stream()), xv, mean, invstd, wv,
                        training, g.bx, g.bw, g.bb);
  }, {});
}

Var group_norm(Tape& t, Var x, int64_t groups, Var weight, Var bias, double eps) {
  return group_norm_op(t, x, groups, weight, bias, eps, "group_norm");
}

Var instance_norm(Tape& t, Var x, Var weight, Var bias, double eps) {
  const int64_t C = channels_of("instance_norm", t.value(x));
  return group_norm_op(t, x, C, weight, bias, eps, "instance_norm");
}

}  // namespace sp::ag
