// Replays the PyTorch golden protocol of shared/golden/README.md on one of our models, on any stream and
// dtype, and reports the error of every quantity: train-mode logits and loss, each parameter gradient, the
// input gradient, BN running stats after the forward, eval logits, the 18 LiRA query views' logits, and the
// parameters and loss after one Nesterov SGD step. Errors are normwise relative, max|got - want| / max|want|
// per tensor (a per-element ratio would blow up on entries that are zero up to rounding). Used by
// tests/test_models_golden.cpp (CPU f64 and f32) and tests/gpu/test_models_gpu.cpp (CUDA f32).
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>

#include "nn/model.h"
#include "nn/ops_loss.h"
#include "nn/optim.h"
#include "nn/safetensors.h"
#include "tests/test_util.h"

namespace sp::test {

// The 18 query views of each image of x [N, C, H, W], as [N * 18, C, H, W] f64 (view-major within an
// image): flip in {no, yes} (outer), dy in {0, -4, +4}, dx in {0, -4, +4} (inner); view (flip, dy, dx) is
// the (flipped) image zero-padded by 4 and cropped at (4 + dy, 4 + dx), i.e. out(i, j) = src(i + dy, j + dx)
// or 0 outside the image.
inline Tensor query_views(const Tensor& x) {
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  std::vector<double> src = as_doubles(x), out(size_t(N * 18 * C * H * W), 0.0);
  const int64_t shifts[3] = {0, -4, 4};
  size_t o = 0;
  for (int64_t n = 0; n < N; ++n)
    for (int flip = 0; flip < 2; ++flip)
      for (int64_t dy : shifts)
        for (int64_t dx : shifts)
          for (int64_t c = 0; c < C; ++c)
            for (int64_t i = 0; i < H; ++i)
              for (int64_t j = 0; j < W; ++j, ++o) {
                const int64_t si = i + dy, sj = j + dx;
                if (si < 0 || si >= H || sj < 0 || sj >= W) continue;
                const int64_t col = flip ? W - 1 - sj : sj;
                out[o] = src[size_t(((n * C + c) * H + si) * W + col)];
              }
  return Tensor::from_vector(out, {N * 18, C, H, W});
}

// max|got - want| / max(max|want|, floor) (0 when equal); shapes must agree (a scalar matches [1]).
inline double normwise_rel_error(const Tensor& got, const Tensor& want, Stream& s, double floor = 0) {
  const bool scalars = got.numel() == 1 && want.numel() == 1;
  EXPECT_TRUE(scalars || got.shape() == want.shape()) << got.str() << " vs " << want.str();
  if (!scalars && got.shape() != want.shape()) return INFINITY;
  auto a = as_doubles(got, s), b = as_doubles(want);
  double diff = 0, scale = floor;
  for (size_t i = 0; i < a.size(); ++i) {
    diff = std::max(diff, std::isnan(a[i]) ? INFINITY : std::abs(a[i] - b[i]));
    scale = std::max(scale, std::abs(b[i]));
  }
  return diff == 0 ? 0 : diff / scale;
}

// Worst error per quantity, with the tensor that produced it.
struct GoldenReport {
  struct Entry {
    double error = 0;
    std::string worst;
  };
  std::map<std::string, Entry> quantities;
  void add(const std::string& quantity, const std::string& name, double err) {
    Entry& e = quantities[quantity];
    if (e.worst.empty() || err > e.error) e = {err, name};
  }
  double max_error() const {
    double m = 0;
    for (const auto& [q, e] : quantities) m = std::max(m, e.error);
    return m;
  }
  std::string str() const {
    std::ostringstream os;
    for (const auto& [q, e] : quantities) os << "\n  " << q << ": " << e.error << " (" << e.worst << ")";
    return os.str();
  }
};

inline GoldenReport run_golden(const std::string& path, const ModelConfig& cfg, Stream& s, DType dt) {
  GoldenReport r;
  TensorFile f = load_safetensors(path);
  auto model = make_model(cfg);
  const ParamLayout& P = model->params();
  const ParamLayout& B = model->buffers();
  Tensor theta = Tensor::empty({P.numel()}, dt, s);
  Tensor buffers = Tensor::empty({B.numel()}, dt, s);
  P.load(theta, f.tensors, "param/", s);
  B.load(buffers, f.tensors, "buffer/", s);
  const Device dev = s.device();
  Tensor x = f.at("input/x").to(dt).to(dev, s);
  Tensor y = f.at("input/y").to(dev, s);

  // Train-mode forward and backward.
  Tape t(s);
  Var th = t.leaf(theta, true), xv = t.leaf(x, true);
  Var logits = model->forward(t, th, buffers, xv, true);
  Var loss = ag::cross_entropy(t, logits, y);
  r.add("logits_train", "out/logits_train", normwise_rel_error(t.value(logits), f.at("out/logits_train"), s));
  r.add("loss", "out/loss", normwise_rel_error(t.value(loss), f.at("out/loss"), s));
  std::vector<Tensor> g = t.grad(loss, {th, xv});
  // A conv bias right before a normalisation has a gradient of exactly zero in exact arithmetic (the norm
  // removes any per-channel shift); both sides hold rounding noise there, so such tensors are measured
  // against the largest gradient of the model instead of their own.
  double largest = 0;
  for (const ParamSpec& p : P.specs()) largest = std::max(largest, max_abs(f.at("grad/" + p.name)));
  for (const ParamSpec& p : P.specs()) {
    const Tensor& want = f.at("grad/" + p.name);
    if (max_abs(want) > 1e-12 * largest)
      r.add("grad/param", p.name, normwise_rel_error(P.view(g[0], p.name), want, s));
    else
      r.add("grad/param (zero by invariance)", p.name, normwise_rel_error(P.view(g[0], p.name), want, s, largest));
  }
  r.add("grad/input", "grad/input", normwise_rel_error(g[1], f.at("grad/input"), s));
  for (const ParamSpec& p : B.specs())
    r.add("after_forward/buffer", p.name,
          normwise_rel_error(B.view(buffers, p.name), f.at("after_forward/buffer/" + p.name), s));

  // Eval mode with the updated running statistics: the batch, then its 18 query views.
  {
    Tape e(s);
    NoGrad off(e);
    Var le = model->forward(e, e.leaf(theta), buffers, e.leaf(x), false);
    r.add("logits_eval", "out/logits_eval", normwise_rel_error(e.value(le), f.at("out/logits_eval"), s));
    Tensor q = query_views(f.at("input/x")).to(dt).to(dev, s);
    Tensor lq = e.value(model->forward(e, e.leaf(theta), buffers, e.leaf(q), false));
    const Tensor& want = f.at("out/query_logits");
    r.add("query_logits", "out/query_logits", normwise_rel_error(lq.view(want.shape()), want, s));
  }

  // One SGD step (lr 0.1, momentum 0.9, Nesterov, weight decay 5e-4 on every parameter), then the train-mode
  // loss again.
  OptimConfig oc;
  oc.kind = OptimKind::sgd;
  oc.momentum = 0.9;
  oc.nesterov = true;
  oc.weight_decay = 5e-4;
  Sgd opt(oc, theta, s);
  opt.step(s, theta, g[0], 0.1);
  for (const ParamSpec& p : P.specs())
    r.add("after_step/param", p.name, normwise_rel_error(P.view(theta, p.name), f.at("after_step/param/" + p.name), s));
  Tape t2(s);
  NoGrad off(t2);
  Var loss2 = ag::cross_entropy(t2, model->forward(t2, t2.leaf(theta), buffers, t2.leaf(x), true), y);
  r.add("after_step/loss", "after_step/loss", normwise_rel_error(t2.value(loss2), f.at("after_step/loss"), s));
  return r;
}

}  // namespace sp::test
