// Tape: first-order reverse-mode autograd. Ops run eagerly and, while recording, append a node holding a
// backward closure; grad(loss, wrt) walks the nodes in reverse and returns d loss / d wrt for parameters
// and inputs alike. Gradient buffers follow one rule: a backward writes `sink = result + beta * sink`,
// with beta 0 for the first contribution (no zero-fill needed) and 1 for later ones. A view of a flat
// parameter vector (Tape::view) aliases its gradient into the flat gradient, so grad(loss, {theta}) is
// one contiguous vector with no gather. Tested in tests/test_tape.cpp and by every op's gradient check.
#pragma once
#include <functional>
#include <span>
#include <vector>

#include "kernels/tensor.h"

namespace sp {

struct Var {
  int32_t id = -1;
  bool valid() const { return id >= 0; }
};

class Tape;

// Where a backward writes an input's gradient: t = result + beta * t.
struct GradSink {
  Tensor t;
  float beta;
};

class BackwardCtx {
 public:
  BackwardCtx(Tape& t, int node) : tape_(t), node_(node) {}
  Stream& stream() const;
  const Tensor& grad_out() const;  // gradient w.r.t. the node's output
  const Tensor& out() const;       // the node's output value
  const Tensor& in(int i) const;   // value of input i
  bool needs(int i) const;         // does input i need a gradient?
  GradSink sink(int i) const;      // where to write input i's gradient

 private:
  Tape& tape_;
  int node_;
};

class Tape {
 public:
  using BackwardFn = std::function<void(BackwardCtx&)>;
  explicit Tape(Stream& s) : stream_(s) {}
  Tape(const Tape&) = delete;
  Tape& operator=(const Tape&) = delete;

  Stream& stream() const { return stream_; }

  // A value entering the computation: an input, a constant, or parameters (requires_grad).
  Var leaf(const Tensor& t, bool requires_grad = false);
  // Records an op's output. When recording is on and an input requires grad, `fn` is kept and the output
  // requires grad; otherwise the closure is dropped (inference costs no tape memory).
  Var record(const Tensor& out, std::initializer_list<Var> inputs, BackwardFn fn);
  Var record(const Tensor& out, std::span<const Var> inputs, BackwardFn fn);
  // A contiguous view [offset, offset + shape.numel()) of a contiguous var whose gradient aliases the
  // base's gradient buffer: parameter views of a flat theta, and reshapes.
  Var view(Var base, int64_t offset, const Shape& shape);
  Var reshape(Var base, const Shape& shape);

  const Tensor& value(Var v) const;
  bool requires_grad(Var v) const;
  int size() const { return int(values_.size()); }

  // d loss / d wrt for each wrt (a zero tensor where loss does not depend on it). loss must be a scalar
  // unless `seed` (the gradient of some scalar w.r.t. loss, same shape) is given. The tape stays intact,
  // so grad may be called again (e.g. with other wrt).
  std::vector<Tensor> grad(Var loss, std::span<const Var> wrt, const Tensor* seed = nullptr);
  std::vector<Tensor> grad(Var loss, std::initializer_list<Var> wrt, const Tensor* seed = nullptr) {
    return grad(loss, std::span<const Var>(wrt.begin(), wrt.size()), seed);
  }

  // Recording switch: off for evaluation (values are computed, nothing is kept for backward).
  bool recording() const { return recording_; }
  void set_recording(bool on) { recording_ = on; }
  // Drops every value and node (call once per training step).
  void clear();

 private:
  friend class BackwardCtx;
  struct Node {
    std::vector<int32_t> inputs;
    int32_t output;
    BackwardFn fn;
  };
  struct Alias {  // value is a contiguous view of base at offset
    int32_t base = -1;
    int64_t offset = 0;
  };
  GradSink sink_for(int32_t v);
  Var add_value(const Tensor& t, bool req);

  Stream& stream_;
  bool recording_ = true;
  std::vector<Tensor> values_;
  std::vector<uint8_t> req_;
  std::vector<Alias> alias_;
  std::vector<Node> nodes_;
  // During grad(): gradient buffer and "written" flag per value.
  std::vector<Tensor> grads_;
  std::vector<uint8_t> written_;
};

// Turns recording off for a scope.
class NoGrad {
 public:
  explicit NoGrad(Tape& t) : t_(t), was_(t.recording()) { t.set_recording(false); }
  ~NoGrad() { t_.set_recording(was_); }

 private:
  Tape& t_;
  bool was_;
};

}  // namespace sp
