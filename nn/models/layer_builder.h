// LayerBuilder: the layers of any network over one flat parameter vector, for classifiers (nn/models/
// model_base.h) and other modules alike (nn/models/dcgan_generator.cpp). A network's constructor declares its
// layers with add_conv / add_batch_norm / add_group_norm / add_linear, which append PyTorch-named parameters
// (and BN running statistics) to two ParamLayouts, remember how PyTorch initialises each, and return a small
// layer record of resolved offsets; forward applies a record with conv / norm / linear, taking views of theta
// (Tape::view: no copies, no name lookups). A builder made for precision bf16 (nn/precision.h) also rounds,
// with ag::round_bf16, what a bf16 step stores: in conv / linear the bf16 copies of the weight and bias they
// read (made from theta at each forward, as a fused optimiser's bf16 copy holds it after each step; theta stays
// the float32 master the optimiser updates) and their outputs, in norm its output (its affine parameters and
// statistics stay float32, as cuDNN's batch norm takes them for bf16 data); a model calls store() for its
// other stored tensors (the input batch, residual sums, pools). relu, reshapes and layout permutations of a
// bf16 value are bf16 values, so need no rounding. A fused layer (e.g. norm + add + ReLU) rounds once, at its
// single output, as the fused kernel writes one bf16 tensor. Tested in
// tests/test_layer_builder.cpp and through every model's tests (tests/test_models.cpp,
// tests/test_models_golden.cpp; bf16 in tests/test_models_bf16.cpp; the fused norm_act against the unfused
// forward in tests/test_models_nhwc.cpp).
#pragma once
#include <string>
#include <vector>

#include "kernels/conv.h"
#include "nn/ops_norm.h"
#include "nn/params.h"
#include "nn/tape.h"

namespace sp::models {

// A parameter (or buffer) as a range of its flat vector.
struct Slot {
  int64_t offset = -1;
  Shape shape;
  bool valid() const { return offset >= 0; }
};

struct ConvLayer {
  Slot weight, bias;  // bias invalid when the conv has none
  Conv2dParams p;
};

struct NormLayer {
  bool batch = true;    // batch norm (with running statistics) or group norm
  int64_t groups = 1;   // group norm only
  double eps = 1e-5;    // group norm only (batch norm: PyTorch's 1e-5)
  Slot weight, bias;
  Slot running_mean, running_var;  // batch norm only: ranges of the buffers vector
};

struct LinearLayer {
  Slot weight, bias;
};

// How a conv or linear layer's weight is drawn. pytorch: U(+-1/sqrt(fan_in)) for weight and bias (the default).
// fan_avg: TensorFlow's variance_scaling(scale, "fan_avg", "uniform"), U(+-sqrt(3 scale / fan_avg)) with
// fan_avg = (fan_in + fan_out) / 2 over the kernel's area, bias 0; scale 0 gives a zero weight (DDPM's zero-initialised
// output layers, shared/reference/round2-methods.md §7.1).
struct WeightInit {
  enum class Kind { pytorch, fan_avg } kind = Kind::pytorch;
  double scale = 1.0;
  static WeightInit fan_avg(double scale) { return {Kind::fan_avg, scale}; }
};

// Whether norm_act fuses the norm with its epilogue: SP_FUSED_NORM (an on/off switch, kernels/env_flag.h;
// on by default) read once per process, or what the last set_fuse_norm_epilogue gave. Off is the unfused
// composition, for comparisons (tests/test_models_nhwc.cpp, the benchmarks).
bool fuse_norm_epilogue();
void set_fuse_norm_epilogue(bool on);

class LayerBuilder {
 public:
  // `owner` names the network in error messages; `bf16`: the layers round what a bf16 step stores (above).
  explicit LayerBuilder(std::string owner, bool bf16 = false) : owner_(std::move(owner)), bf16_(bf16) {}

  // Declaration. Weights follow PyTorch's defaults: conv and linear weights and biases U(+-1/sqrt(fan_in))
  // (kaiming-uniform with a = sqrt(5)), norm weight 1 and bias 0, running mean 0 and running var 1. Conv and
  // linear weights are marked for weight decay, biases and norm parameters are not (ParamSpec::decay), so a
  // trainer can opt into that common variant with params().decay_mask(); PyTorch's default decays everything.
  ConvLayer add_conv(const std::string& name, int64_t in, int64_t out, int64_t kernel, int64_t stride,
                     int64_t padding, bool bias, WeightInit init = {});
  NormLayer add_batch_norm(const std::string& name, int64_t channels);
  NormLayer add_group_norm(const std::string& name, int64_t channels, int64_t groups, double eps = 1e-5);
  LinearLayer add_linear(const std::string& name, int64_t in, int64_t out, WeightInit init = {});
  // An embedding table [rows, dim] (PyTorch's nn.Embedding weight), unit variance like PyTorch's N(0, 1) but
  // drawn uniform (U(+-sqrt 3)) as every rule here; not decayed.
  Slot add_embedding(const std::string& name, int64_t rows, int64_t dim);

  const ParamLayout& params() const { return params_; }
  const ParamLayout& buffers() const { return buffers_; }  // empty without batch norm
  // Every declared parameter and buffer initialised by its rule, deterministically from the seed (each
  // parameter draws from its own stream keyed by its name, so adding a layer leaves the others unchanged).
  void init(Stream& s, const Tensor& theta, const Tensor& buffers, uint64_t seed) const;

  // Application (forward). `buffers` is the flat running-statistics vector (batch norm only). `layout` is the
  // activations' (kernels/layout.h); group norm takes NCHW only.
  Var conv(Tape& t, Var theta, const ConvLayer& l, Var x, Layout layout = Layout::nchw) const;
  Var norm(Tape& t, Var theta, const Tensor& buffers, const NormLayer& l, Var x, bool training,
           Layout layout = Layout::nchw) const;
  Var linear(Tape& t, Var theta, const LinearLayer& l, Var x) const;
  // A norm layer followed by a residual network's epilogue, relu(norm(x) + residual) (each part optional,
  // ag::NormEpilogue), fused into one op (ag::batch_norm_act, ag::group_norm_act: one pass forward, no
  // intermediate tensors); a forward under a LayerTrace (which records each norm layer's own output) applies
  // them as separate ops.
  Var norm_act(Tape& t, Var theta, const Tensor& buffers, const NormLayer& l, Var x, bool training, Layout layout,
               const ag::NormEpilogue& epilogue) const;
  // x as a step of this builder's precision stores it: rounded to bf16 (straight-through gradient, itself
  // rounded: nn/ops_precision.h) under bf16, x itself otherwise.
  Var store(Tape& t, Var x) const;
  bool bf16() const { return bf16_; }

  // Checks theta (and, with batch norm, the buffers) against the layouts; errors name the owner.
  void check_theta_and_buffers(Tape& t, Var theta, const Tensor& buffers) const;

 private:
  struct InitRule {
    double lo = 0, hi = 0;  // U(lo, hi); lo == hi means the constant lo
  };
  Slot add_param(const std::string& name, const Shape& shape, InitRule r, bool decay);
  Slot add_buffer(const std::string& name, const Shape& shape, double value);
  void init_flat(Stream& s, const Tensor& flat, const ParamLayout& layout, const std::vector<InitRule>& rules,
                 uint64_t seed, const char* what) const;

  // A view of a parameter as the layer reads it: the bf16 copy under bf16.
  Var param(Tape& t, Var theta, const Slot& slot) const { return store(t, t.view(theta, slot.offset, slot.shape)); }

  std::string owner_;
  bool bf16_ = false;
  ParamLayout params_, buffers_;
  std::vector<InitRule> param_init_, buffer_init_;
};

}  // namespace sp::models
