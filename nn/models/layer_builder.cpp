// Layer declaration, PyTorch-default initialisation and layer application over a flat parameter vector
// (see layer_builder.h).
#include "nn/models/layer_builder.h"

#include <algorithm>
#include <atomic>
#include <cmath>

#include "kernels/env_flag.h"
#include "nn/init.h"
#include "nn/layer_trace.h"
#include "nn/ops_conv.h"
#include "nn/ops_elementwise.h"
#include "nn/ops_matmul.h"
#include "nn/ops_norm.h"
#include "nn/ops_precision.h"

namespace sp::models {

Slot LayerBuilder::add_param(const std::string& name, const Shape& shape, InitRule r, bool decay) {
  int64_t off = params_.add(name, shape, decay);
  param_init_.push_back(r);
  return {off, shape};
}

Slot LayerBuilder::add_buffer(const std::string& name, const Shape& shape, double value) {
  int64_t off = buffers_.add(name, shape, false);
  buffer_init_.push_back({value, value});
  return {off, shape};
}

namespace {

// The weight's and bias's rules for a layer with fan_in / fan_out inputs and outputs per position.
std::pair<double, double> bounds(const WeightInit& init, double fan_in, double fan_out) {
  if (init.kind == WeightInit::Kind::pytorch) return {1.0 / std::sqrt(fan_in), 1.0 / std::sqrt(fan_in)};
  return {std::sqrt(3.0 * init.scale / ((fan_in + fan_out) / 2)), 0.0};
}

}  // namespace

ConvLayer LayerBuilder::add_conv(const std::string& name, int64_t in, int64_t out, int64_t kernel, int64_t stride,
                              int64_t padding, bool bias, WeightInit init) {
  SP_CHECK(init.scale >= 0, owner_, ": conv '", name, "' has a negative init scale ", init.scale);
  const auto [w, b] = bounds(init, double(in * kernel * kernel), double(out * kernel * kernel));
  ConvLayer l;
  l.weight = add_param(name + ".weight", {out, in, kernel, kernel}, {-w, w}, true);
  if (bias) l.bias = add_param(name + ".bias", {out}, {-b, b}, false);
  l.p.stride = stride;
  l.p.padding = padding;
  return l;
}

NormLayer LayerBuilder::add_batch_norm(const std::string& name, int64_t channels) {
  NormLayer l;
  l.batch = true;
  l.weight = add_param(name + ".weight", {channels}, {1, 1}, false);
  l.bias = add_param(name + ".bias", {channels}, {0, 0}, false);
  l.running_mean = add_buffer(name + ".running_mean", {channels}, 0.0);
  l.running_var = add_buffer(name + ".running_var", {channels}, 1.0);
  return l;
}

NormLayer LayerBuilder::add_group_norm(const std::string& name, int64_t channels, int64_t groups, double eps) {
  SP_CHECK(groups >= 1 && channels % groups == 0, owner_, ": group norm '", name, "' with ", groups,
           " groups does not divide ", channels, " channels");
  NormLayer l;
  l.batch = false;
  l.groups = groups;
  l.eps = eps;
  l.weight = add_param(name + ".weight", {channels}, {1, 1}, false);
  l.bias = add_param(name + ".bias", {channels}, {0, 0}, false);
  return l;
}

LinearLayer LayerBuilder::add_linear(const std::string& name, int64_t in, int64_t out, WeightInit init) {
  SP_CHECK(init.scale >= 0, owner_, ": linear '", name, "' has a negative init scale ", init.scale);
  const auto [w, b] = bounds(init, double(in), double(out));
  LinearLayer l;
  l.weight = add_param(name + ".weight", {out, in}, {-w, w}, true);
  l.bias = add_param(name + ".bias", {out}, {-b, b}, false);
  return l;
}

Slot LayerBuilder::add_embedding(const std::string& name, int64_t rows, int64_t dim) {
  const double bound = std::sqrt(3.0);
  return add_param(name + ".weight", {rows, dim}, {-bound, bound}, false);
}

void LayerBuilder::init_flat(Stream& s, const Tensor& flat, const ParamLayout& layout,
                             const std::vector<InitRule>& rules, uint64_t seed, const char* what) const {
  if (layout.numel() == 0) return;  // a model without buffers accepts an undefined or empty buffer vector
  SP_CHECK(flat.defined() && flat.dim() == 1 && flat.numel() == layout.numel() && flat.is_contiguous() &&
               is_floating(flat.dtype()),
           owner_, ".init: ", what, " ", flat.defined() ? flat.str() : std::string("(undefined)"),
           " must be a contiguous floating vector [", layout.numel(), "]");
  // Values are drawn in f64 on the host (a one-off cost) so every device and dtype sees the same numbers.
  Tensor host = Tensor::empty({layout.numel()}, DType::f64);
  double* h = host.data<double>();
  for (size_t i = 0; i < rules.size(); ++i) {
    const ParamSpec& p = layout.specs()[i];
    const InitRule& r = rules[i];
    if (r.lo == r.hi)
      std::fill(h + p.offset, h + p.offset + p.numel(), r.lo);
    else
      fill_uniform(h + p.offset, p.numel(), r.lo, r.hi, seed, stream_id(p.name));
  }
  Tensor dst = flat;  // a handle: copy_ writes the caller's storage
  dst.copy_(host, s);
}

void LayerBuilder::init(Stream& s, const Tensor& theta, const Tensor& buffers, uint64_t seed) const {
  init_flat(s, theta, params_, param_init_, seed, "theta");
  init_flat(s, buffers, buffers_, buffer_init_, seed, "buffers");
}

void LayerBuilder::check_theta_and_buffers(Tape& t, Var theta, const Tensor& buffers) const {
  const Tensor& th = t.value(theta);
  SP_CHECK(th.numel() == params_.numel() && th.is_contiguous() && is_floating(th.dtype()), owner_, ": theta ",
           th.str(), " must be a contiguous floating vector of ", params_.numel(), " parameters");
  if (buffers_.numel() > 0)
    SP_CHECK(buffers.defined() && buffers.dim() == 1 && buffers.numel() == buffers_.numel() &&
                 buffers.is_contiguous() && buffers.dtype() == th.dtype() && buffers.device() == th.device(),
             owner_, ": buffers ", buffers.defined() ? buffers.str() : std::string("(undefined)"),
             " must be a contiguous vector of ", buffers_.numel(), " running statistics like theta ", th.str());
}

namespace {

// A traced layer's kind, input, output and parameter ranges; the caller adds what only its kind has.
TracedLayer traced(TracedLayer::Kind kind, Var x, Var y, const Slot& weight, const Slot& bias) {
  TracedLayer tl;
  tl.kind = kind;
  tl.x = x;
  tl.y = y;
  tl.weight_offset = weight.offset;
  tl.weight_shape = weight.shape;
  tl.bias_offset = bias.offset;
  tl.bias_shape = bias.shape;
  return tl;
}

}  // namespace

Var LayerBuilder::store(Tape& t, Var x) const { return bf16_ ? ag::round_bf16(t, x) : x; }

// Under bf16 a trace records each layer's output before its rounding: per-sample gradients are then taken
// against what the layer computed, and the rounding's gradient (itself a rounding) stays on the tape above it.
Var LayerBuilder::conv(Tape& t, Var theta, const ConvLayer& l, Var x, Layout layout) const {
  Var w = param(t, theta, l.weight);
  Var b = l.bias.valid() ? param(t, theta, l.bias) : Var{};
  Conv2dParams p = l.p;
  p.layout = layout;
  Var y = ag::conv2d(t, x, w, b, p);
  if (LayerTrace* tr = LayerTrace::active()) {
    TracedLayer tl = traced(TracedLayer::Kind::conv, x, y, l.weight, l.bias);
    tl.conv = l.p;
    tr->add(tl);
  }
  return store(t, y);
}

Var LayerBuilder::norm(Tape& t, Var theta, const Tensor& buffers, const NormLayer& l, Var x, bool training,
                       Layout layout) const {
  Var w = t.view(theta, l.weight.offset, l.weight.shape);
  Var b = t.view(theta, l.bias.offset, l.bias.shape);
  Var y;
  if (!l.batch) {
    SP_CHECK(layout == Layout::nchw, owner_, ": group norm takes NCHW activations, not ", layout);
    y = ag::group_norm(t, x, l.groups, w, b, l.eps);
  } else {
    const int64_t c = l.running_mean.shape.numel();
    y = ag::batch_norm(t, x, w, b, buffers.narrow(0, l.running_mean.offset, c),
                       buffers.narrow(0, l.running_var.offset, c), training, 0.1, 1e-5, layout);
  }
  if (LayerTrace* tr = LayerTrace::active()) {
    TracedLayer tl = traced(l.batch ? TracedLayer::Kind::batch_norm : TracedLayer::Kind::group_norm, x, y,
                            l.weight, l.bias);
    tl.groups = l.groups;
    tr->add(tl);
  }
  return store(t, y);
}

namespace {

std::atomic<int>& fused_norm_setting() {  // -1: not yet read from the environment
  static std::atomic<int> v{-1};
  return v;
}

}  // namespace

bool fuse_norm_epilogue() {
  std::atomic<int>& v = fused_norm_setting();
  if (v.load() < 0) v.store(env_switch("SP_FUSED_NORM", true) ? 1 : 0);
  return v.load() == 1;
}

void set_fuse_norm_epilogue(bool on) { fused_norm_setting().store(on ? 1 : 0); }

Var LayerBuilder::norm_act(Tape& t, Var theta, const Tensor& buffers, const NormLayer& l, Var x, bool training,
                           Layout layout, const ag::NormEpilogue& epilogue) const {
  // Under bf16 the separate ops store (round) the norm's output and the sum, the fused op only its output.
  if (LayerTrace::active() || !fuse_norm_epilogue()) {
    Var y = norm(t, theta, buffers, l, x, training, layout);
    if (epilogue.residual.valid()) y = store(t, ag::add(t, y, epilogue.residual));
    return epilogue.relu ? ag::relu(t, y) : y;
  }
  Var w = t.view(theta, l.weight.offset, l.weight.shape), b = t.view(theta, l.bias.offset, l.bias.shape);
  if (!l.batch) {
    SP_CHECK(layout == Layout::nchw, owner_, ": group norm takes NCHW activations, not ", layout);
    return store(t, ag::group_norm_act(t, x, l.groups, w, b, epilogue, l.eps));
  }
  const int64_t c = l.running_mean.shape.numel();
  return store(t, ag::batch_norm_act(t, x, w, b, buffers.narrow(0, l.running_mean.offset, c),
                                     buffers.narrow(0, l.running_var.offset, c), training, epilogue, 0.1, 1e-5,
                                     layout));
}

Var LayerBuilder::linear(Tape& t, Var theta, const LinearLayer& l, Var x) const {
  Var y = ag::linear(t, x, param(t, theta, l.weight), param(t, theta, l.bias));
  if (LayerTrace* tr = LayerTrace::active())
    tr->add(traced(TracedLayer::Kind::linear, x, y, l.weight, l.bias));
  return store(t, y);
}

}  // namespace sp::models
