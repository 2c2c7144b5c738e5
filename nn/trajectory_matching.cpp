// Trajectory matching's loss and exact meta-gradient, unrolled or adjoint (see trajectory_matching.h).
#include "nn/trajectory_matching.h"

#include <cmath>

#include "kernels/axpby.h"
#include "kernels/error.h"
#include "nn/hvp.h"
#include "nn/ops_elementwise.h"
#include "nn/ops_loss.h"
#include "nn/ops_reduce.h"
#include "nn/ops_shape.h"
#include "nn/unrolled_sgd.h"

namespace sp {

namespace {

// Maximal runs of consecutive rows: (first row, position in `rows`, length).
struct Run {
  int64_t row, pos, len;
};
std::vector<Run> runs_of(const std::vector<int64_t>& rows) {
  std::vector<Run> out;
  for (size_t i = 0; i < rows.size(); ++i) {
    if (!out.empty() && out.back().row + out.back().len == rows[i]) {
      ++out.back().len;
      continue;
    }
    out.push_back({rows[i], int64_t(i), 1});
  }
  return out;
}

// The rows as a new tensor (no tape).
Tensor gather_tensor(Stream& s, const Tensor& x, const std::vector<int64_t>& rows) {
  Shape shape = x.shape();
  shape[0] = int64_t(rows.size());
  Tensor out = Tensor::empty(shape, x.dtype(), s);
  for (const Run& r : runs_of(rows)) out.narrow(0, r.pos, r.len).copy_(x.narrow(0, r.row, r.len), s);
  return out;
}

// acc[rows] += alpha * g (rows may repeat across runs; runs are applied one after another).
void scatter_add(Stream& s, const Tensor& acc, const Tensor& g, const std::vector<int64_t>& rows, double alpha) {
  for (const Run& r : runs_of(rows)) axpby(s, acc.narrow(0, r.row, r.len), g.narrow(0, r.pos, r.len), alpha, 1.0);
}

double scalar(Stream& s, const Tensor& v) { return v.to(DType::f64, s).to_vector<double>(s)[0]; }

double dot(Stream& s, const Tensor& a, const Tensor& b) {
  Tape t(s);
  t.set_recording(false);
  return scalar(s, t.value(ag::sum(t, ag::mul(t, t.leaf(a), t.leaf(b)))));
}

// The cross-entropy of step k on tape t, from the parameters th, the batch x (already gathered) and either
// hard labels or the gathered logits yl (soft targets softmax(yl)).
Var step_loss(Tape& t, const TrajectoryMatchArgs& a, Var th, Var x, int64_t k, const Tensor& labels, Var yl) {
  Var xa = a.aug ? a.aug(t, x, k) : x;
  Var logits = a.model->forward(t, th, a.buffers, xa, true);
  if (!yl.valid()) return ag::cross_entropy(t, logits, labels);
  return ag::cross_entropy(t, logits, ag::exp(t, ag::log_softmax(t, yl)));
}

void check_args(const TrajectoryMatchArgs& a) {
  SP_CHECK(a.model, "trajectory_match: no model");
  SP_CHECK(a.theta_start.dim() == 1 && a.theta_start.numel() == a.model->params().numel() &&
               a.theta_target.shape() == a.theta_start.shape(),
           "trajectory_match: theta_start ", a.theta_start.str(), " and theta_target ", a.theta_target.str(),
           " must be [", a.model->params().numel(), "]");
  SP_CHECK(a.images.dim() == 4 && a.images.dtype() == a.theta_start.dtype(), "trajectory_match: images ",
           a.images.str(), " must be [N, C, H, W] of the parameters' dtype");
  const int64_t n = a.images.size(0);
  SP_CHECK(a.labels.defined() != a.label_logits.defined(), "trajectory_match: give exactly one of labels and label_logits");
  if (a.labels.defined())
    SP_CHECK(a.labels.dim() == 1 && a.labels.size(0) == n, "trajectory_match: labels ", a.labels.str(), " must be [", n, "]");
  else
    SP_CHECK(a.label_logits.dim() == 2 && a.label_logits.size(0) == n && a.label_logits.dtype() == a.images.dtype(),
             "trajectory_match: label_logits ", a.label_logits.str(), " must be [", n, ", classes]");
  SP_CHECK(!a.batches.empty(), "trajectory_match: no unrolled steps");
  for (size_t k = 0; k < a.batches.size(); ++k) {
    SP_CHECK(!a.batches[k].empty(), "trajectory_match: step ", k, " has an empty batch");
    for (int64_t r : a.batches[k]) SP_CHECK(r >= 0 && r < n, "trajectory_match: step ", k, " uses row ", r, " of ", n);
  }
  SP_CHECK(std::isfinite(a.lr), "trajectory_match: the step size is ", a.lr);
}

// |theta - target|^2.
double sq_distance(Stream& s, const Tensor& theta, const Tensor& target) {
  Tensor d = Tensor::empty(theta.shape(), theta.dtype(), s);
  d.copy_(theta, s);
  axpby(s, d, target, -1.0, 1.0);
  return dot(s, d, d);
}

TrajectoryMatchResult unrolled(Stream& s, const TrajectoryMatchArgs& a) {
  Tape t(s);
  Var xs = t.leaf(a.images, true), lr = t.leaf(Tensor::full({}, a.lr, a.images.dtype(), s), true);
  Var y = a.label_logits.defined() ? t.leaf(a.label_logits, true) : Var{};
  Var theta0 = t.leaf(a.theta_start, true);
  std::vector<UnrolledBatch> batches;
  for (size_t k = 0; k < a.batches.size(); ++k) {
    const std::vector<int64_t>& rows = a.batches[k];
    Var x = gather_rows(t, xs, rows);
    if (a.aug) x = a.aug(t, x, int64_t(k));
    if (y.valid())
      batches.push_back({x, Tensor(), ag::exp(t, ag::log_softmax(t, gather_rows(t, y, rows)))});
    else
      batches.push_back({x, gather_tensor(s, a.labels, rows), Var{}});
  }
  Var thetaN = unrolled_sgd(t, *a.model, theta0, lr, batches, a.buffers);
  TrajectoryMatchResult r;
  r.start_distance = sq_distance(s, a.theta_start, a.theta_target);
  SP_CHECK(r.start_distance > 0, "trajectory_match: the start and target parameters are equal");
  Var diff = ag::sub(t, thetaN, t.leaf(a.theta_target));
  Var loss = ag::mul(t, ag::sum(t, ag::mul(t, diff, diff)),
                     t.leaf(Tensor::full({}, 1.0 / r.start_distance, a.images.dtype(), s)));
  std::vector<Var> wrt = {xs, lr};
  if (y.valid()) wrt.push_back(y);
  std::vector<Tensor> g = t.grad(loss, wrt);
  r.loss = scalar(s, t.value(loss));
  r.grad_images = g[0];
  r.grad_lr = scalar(s, g[1]);
  if (y.valid()) r.grad_label_logits = g[2];
  r.theta_final = t.value(thetaN).contiguous(s);
  return r;
}

TrajectoryMatchResult adjoint(Stream& s, const TrajectoryMatchArgs& a) {
  const int64_t N = int64_t(a.batches.size());
  const bool soft = a.label_logits.defined();
  // Forward: the snapshots theta_0 .. theta_{N-1}, first-order gradients only.
  std::vector<Tensor> snap;
  snap.reserve(size_t(N));
  Tensor theta = a.theta_start.contiguous(s);
  for (int64_t k = 0; k < N; ++k) {
    snap.push_back(theta);
    const std::vector<int64_t>& rows = a.batches[size_t(k)];
    Tape t(s);
    Var th = t.leaf(theta, true);
    Var x = t.leaf(gather_tensor(s, a.images, rows));
    Var yl = soft ? t.leaf(gather_tensor(s, a.label_logits, rows)) : Var{};
    Tensor g = t.grad(step_loss(t, a, th, x, k, soft ? Tensor() : gather_tensor(s, a.labels, rows), yl), {th})[0];
    Tensor next = Tensor::empty(theta.shape(), theta.dtype(), s);
    next.copy_(theta, s);
    axpby(s, next, g, -a.lr, 1.0);
    theta = next;
  }
  TrajectoryMatchResult r;
  r.theta_final = theta;
  r.start_distance = sq_distance(s, a.theta_start, a.theta_target);
  SP_CHECK(r.start_distance > 0, "trajectory_match: the start and target parameters are equal");
  const double end_distance = sq_distance(s, theta, a.theta_target);
  r.loss = end_distance / r.start_distance;

  // Backward: lambda = dL/dtheta_{k+1}, carried from N down to 1.
  Tensor lambda = Tensor::empty(theta.shape(), theta.dtype(), s);
  lambda.copy_(theta, s);
  axpby(s, lambda, a.theta_target, -2.0 / r.start_distance, 2.0 / r.start_distance);
  r.grad_images = Tensor::zeros(a.images.shape(), a.images.dtype(), s);
  if (soft) r.grad_label_logits = Tensor::zeros(a.label_logits.shape(), a.label_logits.dtype(), s);
  for (int64_t k = N - 1; k >= 0; --k) {
    const std::vector<int64_t>& rows = a.batches[size_t(k)];
    Tape t(s);
    Var th = t.leaf(snap[size_t(k)], true);
    Var x = t.leaf(gather_tensor(s, a.images, rows), true);
    Var yl = soft ? t.leaf(gather_tensor(s, a.label_logits, rows), true) : Var{};
    Var loss = step_loss(t, a, th, x, k, soft ? Tensor() : gather_tensor(s, a.labels, rows), yl);
    // grad_graph once: its value is g_k, and d<g_k, lambda>/d(th, x, y) is one more sweep.
    Var g = t.grad_graph(loss, {th})[0];
    r.grad_lr -= dot(s, t.value(g), lambda);
    Var dir = ag::sum(t, ag::mul(t, g, t.leaf(lambda)));
    std::vector<Var> wrt = {x};
    if (soft) wrt.push_back(yl);
    if (k > 0) wrt.push_back(th);  // lambda_0 is not needed: theta_start is the expert's, not learned
    std::vector<Tensor> d = t.grad(dir, wrt);
    scatter_add(s, r.grad_images, d[0], rows, -a.lr);
    if (soft) scatter_add(s, r.grad_label_logits, d[1], rows, -a.lr);
    if (k > 0) axpby(s, lambda, d.back(), -a.lr, 1.0);
    snap[size_t(k)] = Tensor();  // release as we go
  }
  return r;
}

}  // namespace

const char* meta_grad_mode_name(MetaGradMode m) { return m == MetaGradMode::unrolled ? "unrolled" : "adjoint"; }

MetaGradMode meta_grad_mode_from_name(const std::string& name) {
  if (name == "unrolled") return MetaGradMode::unrolled;
  if (name == "adjoint") return MetaGradMode::adjoint;
  SP_FAIL("unknown meta-gradient mode '", name, "' (unrolled or adjoint)");
}

Var gather_rows(Tape& t, Var x, const std::vector<int64_t>& rows) {
  SP_CHECK(!rows.empty(), "gather_rows: no rows");
  const int64_t n = t.value(x).size(0);
  std::vector<Var> parts;
  for (const Run& r : runs_of(rows)) {
    SP_CHECK(r.row >= 0 && r.row + r.len <= n, "gather_rows: row ", r.row, " of ", n);
    parts.push_back(r.row == 0 && r.len == n ? x : ag::narrow(t, x, 0, r.row, r.len));
  }
  return parts.size() == 1 ? parts[0] : ag::concat(t, parts, 0);
}

TrajectoryMatchResult trajectory_match(Stream& s, const TrajectoryMatchArgs& a, MetaGradMode mode) {
  check_args(a);
  return mode == MetaGradMode::unrolled ? unrolled(s, a) : adjoint(s, a);
}

}  // namespace sp
