// Tape: reverse-mode autograd of any order. Ops run eagerly and, while recording, append a node holding
// two backward closures:
//  - `backward` (first order, fast): writes input gradients straight into gradient buffers with the rule
//    `sink = result + beta * sink` (beta 0 for the first contribution, 1 after), used by grad();
//  - `diff_backward` (differentiable): builds the input gradients from tape ops on `Var`s, so they are
//    recorded like any other value; used by grad_graph(), PyTorch's autograd.grad(create_graph=True).
// A gradient returned by grad_graph() is an ordinary Var: a later grad()/grad_graph() of any scalar built
// from it (a gradient distance, parameters after k unrolled SGD steps) is exact. An op recorded without a
// differentiable backward makes grad_graph() fail, naming the op, only when the sweep has to pass through it.
// Both sweeps visit only nodes on a path from a requested `wrt` to the loss.
// A view of a flat parameter vector (Tape::view) aliases its gradient into the flat gradient, so
// grad(loss, {theta}) is one contiguous vector with no gather; grad_graph() assembles the same flat
// gradient from the views' gradients with one concat. grad() allocates the flat gradient uninitialised and
// tracks which ranges views have written (nn/grad_cover.h): a view's first contribution overwrites
// (beta 0), and only ranges nothing wrote are zero-filled, just before they are read or accumulated into
// (or before a backward whose inputs alias overlapping ranges of one root, whose sinks then all accumulate).
// A first-order backward may hand an input its own gradient buffer (BackwardCtx::adopt: add and sub pass the
// incoming gradient on instead of copying it); the tape copies such a buffer before accumulating into it
// while another gradient or the caller still holds it. Every Var remembers its tape (and the tape's
// generation, bumped by clear()), so a Var from another tape or from before clear() is refused by name.
// Tested in tests/test_tape.cpp, tests/test_tape_grad_buffers.cpp, tests/test_tape_second_order.cpp and by
// every op's first- and second-order gradient checks.
#pragma once
#include <cstdint>
#include <deque>
#include <functional>
#include <initializer_list>
#include <span>
#include <vector>

#include "kernels/tensor.h"
#include "nn/grad_cover.h"

namespace sp {

struct Var {
  int32_t id = -1;
  uint32_t tape = 0;  // owning tape's serial and generation (0: none)
  bool valid() const { return id >= 0; }
};

class Tape;

// Where a backward writes an input's gradient: t = result + beta * t (beta 0: t is uninitialised). A
// backward may fetch all its sinks before writing any.
struct GradSink {
  Tensor t;
  float beta;
};

// What a first-order backward sees of its node.
class BackwardCtx {
 public:
  BackwardCtx(Tape& t, int node) : tape_(t), node_(node) {}
  Stream& stream() const;
  const Tensor& grad_out() const;  // gradient w.r.t. the node's output
  const Tensor& out() const;       // the node's output value
  const Tensor& in(int i) const;   // value of input i
  bool needs(int i) const;         // does input i need a gradient?
  GradSink sink(int i) const;      // where to write input i's gradient
  // Makes g (not copied) input i's gradient when i has none yet, is not a view, and g is contiguous with
  // i's shape, dtype and device; returns false otherwise, and the caller writes sink(i) as usual. g may then
  // share its storage with grad_out() or with another input's gradient: the tape copies it before anything
  // accumulates into it while someone else holds it, and before grad() returns it shared.
  bool adopt(int i, const Tensor& g) const;

 private:
  Tape& tape_;
  int node_;
};

// What a differentiable backward sees of its node: Vars on the same tape. It adds each needed input's
// gradient with add(i, g), a Var computed from grad_out(), in()/out() and constants with tape ops.
class DiffBackwardCtx {
 public:
  DiffBackwardCtx(Tape& t, const std::vector<int32_t>& inputs, int32_t output, Var grad_out,
                  const std::vector<uint8_t>& needs)
      : tape_(t), inputs_(inputs), output_(output), grad_out_(grad_out), needs_(needs) {}
  Tape& tape() const { return tape_; }
  Var grad_out() const { return grad_out_; }
  Var out() const;
  Var in(int i) const;
  bool needs(int i) const { return needs_.at(size_t(i)) != 0; }
  void add(int i, Var g);
  const std::vector<Var>& added(int i) const;  // for the tape

 private:
  Tape& tape_;
  const std::vector<int32_t>& inputs_;
  int32_t output_;
  Var grad_out_;
  const std::vector<uint8_t>& needs_;
  std::vector<std::vector<Var>> added_;
};

class Tape {
 public:
  using BackwardFn = std::function<void(BackwardCtx&)>;
  using DiffBackwardFn = std::function<void(DiffBackwardCtx&)>;
  explicit Tape(Stream& s);
  Tape(const Tape&) = delete;
  Tape& operator=(const Tape&) = delete;

  Stream& stream() const { return stream_; }

  // A value entering the computation: an input, a constant, or parameters (requires_grad).
  Var leaf(const Tensor& t, bool requires_grad = false);
  // Records the output of op `op` (a static name, used in errors). When recording is on and an input
  // requires grad, the closures are kept and the output requires grad; otherwise they are dropped
  // (inference costs no tape memory). `diff_backward` may be empty: the op then supports first order only.
  Var record(const char* op, const Tensor& out, std::initializer_list<Var> inputs, BackwardFn backward,
             DiffBackwardFn diff_backward);
  Var record(const char* op, const Tensor& out, std::span<const Var> inputs, BackwardFn backward,
             DiffBackwardFn diff_backward);
  // A contiguous view [offset, offset + shape.numel()) of a contiguous var whose gradient aliases the
  // base's gradient buffer: parameter views of a flat theta, and reshapes.
  Var view(Var base, int64_t offset, const Shape& shape);
  Var reshape(Var base, const Shape& shape);

  const Tensor& value(Var v) const;
  bool requires_grad(Var v) const;
  int size() const { return int(values_.size()); }
  int num_nodes() const { return int(nodes_.size()); }
  // Bytes of the distinct storages the tape's values hold (what a recorded chain keeps alive, closures'
  // saved tensors aside, which are almost always the same storages).
  size_t bytes_held() const;
  // The name of the op that produced v ("leaf" or "view" otherwise).
  const char* producer(Var v) const;
  // Elements of gradient buffers the last grad() zero-filled because no contribution reached them before
  // they were read or accumulated into (for tests: a flat gradient every view writes needs none).
  int64_t grad_zero_filled() const { return zero_filled_; }

  // d loss / d wrt for each wrt (a zero tensor where loss does not depend on it). loss must be a scalar
  // unless `seed` (the gradient of some scalar w.r.t. loss, same shape) is given. The tape stays intact,
  // so grad may be called again (e.g. with other wrt).
  std::vector<Tensor> grad(Var loss, std::span<const Var> wrt, const Tensor* seed = nullptr);
  std::vector<Tensor> grad(Var loss, std::initializer_list<Var> wrt, const Tensor* seed = nullptr) {
    return grad(loss, std::span<const Var>(wrt.begin(), wrt.size()), seed);
  }

  // The create-graph mode of grad: the same gradients as recorded Vars on this tape (a constant zero leaf
  // where loss does not depend on a wrt), differentiable again. `seed` (a Var of loss's shape, itself
  // differentiable) replaces the implicit 1 of a scalar loss. Recording is on during the sweep.
  std::vector<Var> grad_graph(Var loss, std::span<const Var> wrt, Var seed = {});
  std::vector<Var> grad_graph(Var loss, std::initializer_list<Var> wrt, Var seed = {}) {
    return grad_graph(loss, std::span<const Var>(wrt.begin(), wrt.size()), seed);
  }

  // Recording switch: off for evaluation (values are computed, nothing is kept for backward).
  bool recording() const { return recording_; }
  void set_recording(bool on) { recording_ = on; }
  // Drops every value and node (call once per training step); Vars from before are refused afterwards.
  void clear();

 private:
  friend class BackwardCtx;
  friend class DiffBackwardCtx;
  struct Node {
    const char* op;
    std::vector<int32_t> inputs;
    int32_t output;
    BackwardFn fn;
    DiffBackwardFn diff_fn;
  };
  struct Alias {  // value is a contiguous view of base at offset
    int32_t base = -1;
    int64_t offset = 0;
  };
  // What grad() knows of a gradient buffer: nothing written (unallocated), some ranges written (only a
  // root, through views: cover_), all written, or all written and adopted, so its storage may be shared.
  enum GradState : uint8_t { kNone, kPartial, kFull, kAdopted };
  GradSink sink_for(int32_t v);
  bool adopt(int32_t v, const Tensor& g);
  void zero_overlapping_sinks(const Node& node);
  void mark_written(int32_t root, int64_t b, int64_t e);
  void fill_gaps(int32_t root, int64_t b, int64_t e);
  void own(int32_t v);
  Tensor read_grad(int32_t v);
  Var add_value(const Tensor& t, bool req);
  Var make_var(int32_t id) const { return Var{id, tag_}; }
  void check_var(Var v, const char* who) const;
  void check_wrt(Var w, const char* who) const;
  int32_t root_of(int32_t v) const { return alias_[v].base >= 0 ? alias_[v].base : v; }
  // reach[v]: v is a wrt, the root of a wrt, a view of such a root, or computed from one.
  std::vector<uint8_t> reachable(std::span<const Var> wrt) const;
  Var sum_vars(const std::vector<Var>& terms);
  Var assemble_root(int32_t root, std::vector<std::pair<int64_t, Var>>& parts);

  Stream& stream_;
  uint32_t serial_ = 0;  // unique per tape
  uint32_t tag_ = 0;     // serial and generation, stamped on every Var
  uint32_t generation_ = 0;
  bool recording_ = true;
  // A deque, so a `const Tensor&` from value() stays valid while later ops append values (differentiable
  // backwards hold one across the ops they record).
  std::deque<Tensor> values_;
  std::vector<uint8_t> req_;
  std::vector<Alias> alias_;
  std::vector<int32_t> producer_;  // node index of each value's op, -1 for leaves and views
  std::vector<Node> nodes_;
  // During grad(): gradient buffer, its GradState, the written ranges of a partly written root, and the
  // "on a path to a wrt" flag per value.
  std::vector<Tensor> grads_;
  std::vector<uint8_t> state_;
  std::vector<GradCover> cover_;
  std::vector<uint8_t> reach_;
  int64_t zero_filled_ = 0;
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
