// Reverse-mode sweeps over the tape (see tape.h): grad() with gradient buffers (a root's buffer uninitialised,
// its written ranges tracked so only unwritten gaps are zero-filled; adopted buffers copied on write while
// shared), grad_graph() with recorded Vars. Tested in tests/test_tape.cpp, tests/test_tape_grad_buffers.cpp
// and tests/test_tape_second_order.cpp.
#include "nn/tape.h"

#include <algorithm>
#include <atomic>
#include <unordered_set>

#include "kernels/error.h"
#include "nn/ops_elementwise.h"
#include "nn/ops_shape.h"

namespace sp {

namespace {
uint32_t next_tag() {
  static std::atomic<uint32_t> counter{0};
  uint32_t t = ++counter;
  if (t == 0) t = ++counter;  // 0 means "no tape"
  return t;
}
}  // namespace

Stream& BackwardCtx::stream() const { return tape_.stream_; }
const Tensor& BackwardCtx::grad_out() const { return tape_.grads_[tape_.nodes_[node_].output]; }
const Tensor& BackwardCtx::out() const { return tape_.values_[tape_.nodes_[node_].output]; }
const Tensor& BackwardCtx::in(int i) const { return tape_.values_[tape_.nodes_[node_].inputs.at(i)]; }
bool BackwardCtx::needs(int i) const {
  int32_t v = tape_.nodes_[node_].inputs.at(i);
  return tape_.req_[v] && tape_.reach_[v];
}
GradSink BackwardCtx::sink(int i) const { return tape_.sink_for(tape_.nodes_[node_].inputs.at(i)); }
bool BackwardCtx::adopt(int i, const Tensor& g) const { return tape_.adopt(tape_.nodes_[node_].inputs.at(i), g); }

Var DiffBackwardCtx::out() const { return tape_.make_var(output_); }
Var DiffBackwardCtx::in(int i) const { return tape_.make_var(inputs_.at(size_t(i))); }
void DiffBackwardCtx::add(int i, Var g) {
  SP_CHECK(needs(i), "differentiable backward of '", tape_.producer(out()), "': input ", i,
           " needs no gradient");
  tape_.check_var(g, "differentiable backward");
  const Tensor& want = tape_.values_[inputs_.at(size_t(i))];
  const Tensor& got = tape_.value(g);
  SP_CHECK(got.shape() == want.shape() && got.dtype() == want.dtype(), "differentiable backward of '",
           tape_.producer(out()), "': gradient ", got.str(), " for input ", i, " ", want.str());
  if (added_.size() < inputs_.size()) added_.resize(inputs_.size());
  added_[size_t(i)].push_back(g);
}
const std::vector<Var>& DiffBackwardCtx::added(int i) const {
  static const std::vector<Var> none;
  return size_t(i) < added_.size() ? added_[size_t(i)] : none;
}

Tape::Tape(Stream& s) : stream_(s), tag_(next_tag()) {}

void Tape::check_var(Var v, const char* who) const {
  SP_CHECK(v.id >= 0, who, ": invalid (default-constructed) Var");
  SP_CHECK(v.tape == tag_, who, ": Var ", v.id, " belongs to another tape or to this tape before clear()");
  SP_CHECK(v.id < int(values_.size()), who, ": invalid var ", v.id);
}

// A gradient w.r.t. a value that requires none cannot be had: the ops that consumed it kept no backward.
void Tape::check_wrt(Var w, const char* who) const {
  check_var(w, who);
  SP_CHECK(req_[w.id], who, ": wrt Var ", w.id, " (", producer(w), ", ", values_[w.id].str(),
           ") does not require grad: make it a leaf with requires_grad, or compute it from one");
}

Var Tape::add_value(const Tensor& t, bool req) {
  SP_CHECK(t.defined(), "Tape: recording an undefined tensor");
  values_.push_back(t);
  req_.push_back(req);
  alias_.push_back({});
  producer_.push_back(-1);
  return make_var(int32_t(values_.size() - 1));
}

Var Tape::leaf(const Tensor& t, bool requires_grad) {
  SP_CHECK(t.device() == stream_.device(), "Tape::leaf: tensor ", t.str(), " is not on the tape's device ",
           stream_.device());
  return add_value(t, requires_grad);
}

const Tensor& Tape::value(Var v) const {
  check_var(v, "Tape");
  return values_[v.id];
}

bool Tape::requires_grad(Var v) const {
  value(v);
  return req_[v.id];
}

size_t Tape::bytes_held() const {
  std::unordered_set<const Storage*> seen;
  size_t bytes = 0;
  for (const Tensor& v : values_)
    if (v.defined() && seen.insert(v.storage().get()).second) bytes += v.storage()->nbytes();
  return bytes;
}

const char* Tape::producer(Var v) const {
  value(v);
  if (producer_[v.id] >= 0) return nodes_[producer_[v.id]].op;
  return alias_[v.id].base >= 0 ? "view" : "leaf";
}

Var Tape::record(const char* op, const Tensor& out, std::initializer_list<Var> inputs, BackwardFn backward,
                 DiffBackwardFn diff_backward) {
  return record(op, out, std::span<const Var>(inputs.begin(), inputs.size()), std::move(backward),
                std::move(diff_backward));
}

Var Tape::record(const char* op, const Tensor& out, std::span<const Var> inputs, BackwardFn backward,
                 DiffBackwardFn diff_backward) {
  bool req = false;
  for (Var v : inputs) {
    check_var(v, op);
    req = req || req_[v.id];
  }
  req = req && recording_;
  Var o = add_value(out, req);
  if (req) {
    Node n{op, {}, o.id, std::move(backward), std::move(diff_backward)};
    for (Var v : inputs) n.inputs.push_back(v.id);
    producer_[o.id] = int32_t(nodes_.size());
    nodes_.push_back(std::move(n));
  }
  return o;
}

Var Tape::view(Var base, int64_t offset, const Shape& shape) {
  const Tensor& b = value(base);
  SP_CHECK(b.is_contiguous(), "Tape::view: base ", b.str(), " is not contiguous");
  SP_CHECK(offset >= 0 && offset + shape.numel() <= b.numel(), "Tape::view: [", offset, ", ",
           offset + shape.numel(), ") exceeds ", b.str());
  Tensor v = b.flatten().slice(0, offset, offset + shape.numel()).view(shape);
  Var o = add_value(v, req_[base.id] && recording_);
  // Chains of aliases resolve to the root so the flat gradient is written in place.
  Alias a{base.id, offset};
  if (alias_[base.id].base >= 0) a = {alias_[base.id].base, alias_[base.id].offset + offset};
  alias_[o.id] = a;
  return o;
}

Var Tape::reshape(Var base, const Shape& shape) {
  const Tensor& b = value(base);
  Tensor r = b.view(shape);  // validates
  return view(base, 0, r.shape());
}

std::vector<uint8_t> Tape::reachable(std::span<const Var> wrt) const {
  std::vector<uint8_t> reach(values_.size(), 0);
  for (Var w : wrt) {
    reach[w.id] = 1;
    reach[root_of(w.id)] = 1;
  }
  // Values are created in order, so one forward pass propagates reachability.
  for (size_t v = 0; v < values_.size(); ++v) {
    if (reach[v]) continue;
    if (alias_[v].base >= 0) {
      reach[v] = reach[alias_[v].base];
    } else if (producer_[v] >= 0) {
      for (int32_t in : nodes_[producer_[v]].inputs)
        if (reach[in]) {
          reach[v] = 1;
          break;
        }
    }
  }
  return reach;
}

// Records that [b, e) of root's gradient now holds a gradient.
void Tape::mark_written(int32_t root, int64_t b, int64_t e) {
  const int64_t n = values_[root].numel();
  if (state_[root] == kFull || state_[root] == kAdopted) return;
  if (b <= 0 && e >= n) {
    state_[root] = kFull;
  } else {
    cover_[root].insert(b, e);
    state_[root] = cover_[root].covers(0, n) ? kFull : kPartial;
  }
  if (state_[root] == kFull) cover_[root].clear();
}

// Zero-fills the parts of [b, e) of a partly written root's gradient that nothing has written, so the range
// can be read, or accumulated into with beta 1: 0 + x is what the zero-filled buffer used to give.
void Tape::fill_gaps(int32_t root, int64_t b, int64_t e) {
  if (state_[root] != kPartial) return;
  Tensor flat = grads_[root].flatten();
  cover_[root].for_each_gap(b, e, [&](int64_t gb, int64_t ge) {
    flat.slice(0, gb, ge).zero_(stream_);
    zero_filled_ += ge - gb;
  });
  mark_written(root, b, e);
}

// Before accumulating into an adopted buffer: copy it if another gradient (or the caller's seed) still holds
// its storage. Once owned it stays owned: only this value's producer can hand the buffer on, and it runs
// after every contribution to this value.
void Tape::own(int32_t v) {
  if (state_[v] != kAdopted) return;
  if (grads_[v].storage().use_count() > 1) grads_[v] = grads_[v].clone(stream_);
  state_[v] = kFull;
}

GradSink Tape::sink_for(int32_t v) {
  const Alias& a = alias_[v];
  const int32_t root = a.base >= 0 ? a.base : v;
  const int64_t b = a.base >= 0 ? a.offset : 0, e = b + values_[v].numel();
  Tensor& g = grads_[root];
  float beta = 1.0f;
  if (state_[root] == kNone) {
    g = Tensor::empty(values_[root].shape(), values_[root].dtype(), stream_);
    beta = 0.0f;
  } else if (state_[root] == kPartial && !cover_[root].overlaps(b, e)) {
    beta = 0.0f;  // this range's first contribution
  } else {
    fill_gaps(root, b, e);
    own(root);
  }
  mark_written(root, b, e);
  if (a.base < 0) return {g, beta};
  return {g.flatten().slice(0, b, e).view(values_[v].shape()), beta};
}

// Two inputs of one node that alias overlapping ranges of one root (two views, or a view and the root): a
// backward may fetch both sinks before writing either (a fused loss backward writes both in one pass), so
// the first may not overwrite (beta 0) what the second accumulates onto. Zero-fill both ranges first so
// every such sink accumulates (beta 1), as when the whole flat gradient was zero-filled. Two inputs that
// are one plain value keep beta 0 then 1, as they always had.
void Tape::zero_overlapping_sinks(const Node& node) {
  const std::vector<int32_t>& in = node.inputs;
  auto range = [&](int32_t v) {
    const int64_t b = alias_[v].base >= 0 ? alias_[v].offset : 0;
    return std::pair{b, b + values_[v].numel()};
  };
  for (size_t i = 0; i < in.size(); ++i)
    for (size_t j = i + 1; j < in.size(); ++j) {
      const int32_t u = in[i], v = in[j], root = root_of(u);
      if ((alias_[u].base < 0 && alias_[v].base < 0) || root != root_of(v)) continue;
      if (!(req_[u] && reach_[u] && req_[v] && reach_[v])) continue;
      const auto [ub, ue] = range(u);
      const auto [vb, ve] = range(v);
      if (!(ub < ve && vb < ue)) continue;
      if (state_[root] == kNone) {
        grads_[root] = Tensor::empty(values_[root].shape(), values_[root].dtype(), stream_);
        state_[root] = kPartial;  // nothing written yet: all of [ub, ue) and [vb, ve) is a gap
      }
      fill_gaps(root, ub, ue);
      fill_gaps(root, vb, ve);
    }
}

bool Tape::adopt(int32_t v, const Tensor& g) {
  const Tensor& want = values_[v];
  if (alias_[v].base >= 0 || state_[v] != kNone || !g.defined() || g.shape() != want.shape() ||
      g.dtype() != want.dtype() || g.device() != want.device() || !g.is_contiguous())
    return false;
  grads_[v] = g;
  state_[v] = kAdopted;
  return true;
}

// v's gradient to be read (v written at least in part): the unwritten parts of its range zero-filled first.
Tensor Tape::read_grad(int32_t v) {
  const Alias& a = alias_[v];
  const int32_t root = a.base >= 0 ? a.base : v;
  const int64_t b = a.base >= 0 ? a.offset : 0, e = b + values_[v].numel();
  fill_gaps(root, b, e);
  if (a.base < 0) return grads_[v];
  return grads_[root].flatten().slice(0, b, e).view(values_[v].shape());
}

std::vector<Tensor> Tape::grad(Var loss, std::span<const Var> wrt, const Tensor* seed) {
  const Tensor& L = value(loss);
  for (Var w : wrt) check_wrt(w, "Tape::grad");
  grads_.assign(values_.size(), Tensor());
  state_.assign(values_.size(), kNone);
  cover_.assign(values_.size(), GradCover());
  reach_ = reachable(wrt);
  zero_filled_ = 0;
  if (seed) {
    check_same_shape("Tape::grad seed", *seed, L);
    grads_[loss.id] = seed->contiguous(stream_);
  } else {
    SP_CHECK(L.numel() == 1, "Tape::grad: loss ", L.str(), " is not a scalar; pass a seed gradient");
    grads_[loss.id] = Tensor::full(L.shape(), 1.0, L.dtype(), stream_);
  }
  // Never adopted, so never written into: the seed may be the caller's tensor.
  state_[loss.id] = kFull;
  if (alias_[loss.id].base >= 0) {  // loss is itself a view: the seed is its range's first contribution
    GradSink s = sink_for(loss.id);
    s.t.copy_(grads_[loss.id], stream_);
  }
  std::vector<uint8_t> keep(values_.size(), 0);
  for (Var w : wrt) {
    keep[w.id] = 1;
    keep[root_of(w.id)] = 1;
  }
  keep[loss.id] = 1;

  for (int n = int(nodes_.size()) - 1; n >= 0; --n) {
    Node& node = nodes_[n];
    int32_t o = node.output;
    int32_t src = root_of(o);
    if (state_[src] == kNone || !reach_[o]) continue;  // nothing flows into this node, or nothing flows on
    BackwardCtx ctx(*this, n);
    // The backward reads grad_out(): zero-fill what no view of this root wrote.
    if (alias_[o].base < 0)
      fill_gaps(o, 0, values_[o].numel());
    else if (!grads_[o].defined())
      grads_[o] = read_grad(o);  // view of the root buffer
    if (node.inputs.size() > 1) zero_overlapping_sinks(node);
    node.fn(ctx);
    if (!keep[o]) grads_[o] = Tensor();  // free as soon as consumed
  }

  // An adopted buffer goes out only when nothing but this gradient (and views of it) holds its storage: drop
  // the buffers not returned (the loss's too, unless it is a wrt), then copy one still shared with another
  // returned gradient or with the caller's seed.
  std::vector<uint8_t> returned(values_.size(), 0);
  for (Var w : wrt) returned[root_of(w.id)] = 1;
  for (size_t v = 0; v < grads_.size(); ++v)
    if (!returned[v]) grads_[v] = Tensor();
  for (Var w : wrt) own(root_of(w.id));
  std::vector<Tensor> out;
  for (Var w : wrt) {
    if (state_[root_of(w.id)] == kNone)
      out.push_back(Tensor::zeros(values_[w.id].shape(), values_[w.id].dtype(), stream_));
    else
      out.push_back(read_grad(w.id));
  }
  grads_.clear();
  state_.clear();
  cover_.clear();
  reach_.clear();
  return out;
}

Var Tape::sum_vars(const std::vector<Var>& terms) {
  Var acc = terms[0];
  for (size_t i = 1; i < terms.size(); ++i) acc = ag::add(*this, acc, terms[i]);
  return acc;
}

// The gradient of a root from the gradients of its views (each flattened, at its offset): one concat of
// the views and zero gaps when they do not overlap, else a sum of zero-padded pieces.
Var Tape::assemble_root(int32_t root, std::vector<std::pair<int64_t, Var>>& parts) {
  const Tensor& rv = values_[root];
  const int64_t n = rv.numel();
  std::stable_sort(parts.begin(), parts.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  auto zeros = [&](int64_t len) { return leaf(Tensor::zeros({len}, rv.dtype(), stream_)); };
  auto padded = [&](const std::vector<std::pair<int64_t, Var>>& ps) {
    std::vector<Var> pieces;
    int64_t at = 0;
    for (const auto& [off, g] : ps) {
      if (off > at) pieces.push_back(zeros(off - at));
      pieces.push_back(g);
      at = off + values_[g.id].numel();
    }
    if (at < n) pieces.push_back(zeros(n - at));
    Var flat = pieces.size() == 1 ? pieces[0] : ag::concat(*this, pieces, 0);
    return reshape(flat, rv.shape());
  };
  bool overlap = false;
  for (size_t i = 1; i < parts.size(); ++i)
    overlap = overlap || parts[i].first < parts[i - 1].first + values_[parts[i - 1].second.id].numel();
  if (!overlap) return padded(parts);
  std::vector<Var> terms;
  for (const auto& p : parts) terms.push_back(padded({p}));
  return sum_vars(terms);
}

std::vector<Var> Tape::grad_graph(Var loss, std::span<const Var> wrt, Var seed) {
  const Tensor& L = value(loss);
  for (Var w : wrt) check_wrt(w, "Tape::grad_graph");
  struct RecordingOn {
    Tape& t;
    bool was;
    ~RecordingOn() { t.recording_ = was; }
  } guard{*this, recording_};
  recording_ = true;

  const int32_t n_before = int32_t(values_.size());
  std::vector<uint8_t> reach = reachable(wrt);
  Var g_loss;
  if (seed.valid()) {
    check_same_shape("Tape::grad_graph seed", value(seed), L);
    g_loss = seed;
  } else {
    SP_CHECK(L.numel() == 1, "Tape::grad_graph: loss ", L.str(), " is not a scalar; pass a seed gradient");
    g_loss = leaf(Tensor::full(L.shape(), 1.0, L.dtype(), stream_));
  }
  // Contributions per value: whole-value gradients, and (for roots) flattened view gradients at offsets.
  std::vector<std::vector<Var>> full(static_cast<size_t>(n_before));
  std::vector<std::vector<std::pair<int64_t, Var>>> parts(static_cast<size_t>(n_before));
  std::vector<Var> total(static_cast<size_t>(n_before));
  full[loss.id].push_back(g_loss);

  for (int32_t v = loss.id; v >= 0; --v) {
    if (!reach[v] || (full[v].empty() && parts[v].empty())) continue;
    if (alias_[v].base >= 0) {  // a view hands its gradient to its root
      // Copies first: reshape appends to alias_, which may move its elements.
      const Alias a = alias_[v];
      Var g = sum_vars(full[v]);
      Var flat = reshape(g, {values_[v].numel()});
      parts[a.base].push_back({a.offset, flat});
      total[v] = g;
      continue;
    }
    std::vector<Var> terms = full[v];
    if (!parts[v].empty()) terms.push_back(assemble_root(v, parts[v]));
    Var g = sum_vars(terms);
    total[v] = g;
    const int32_t ni = producer_[v];
    if (ni < 0) continue;
    const Node node = nodes_[size_t(ni)];  // a copy: the sweep appends nodes
    std::vector<uint8_t> needs(node.inputs.size());
    bool any = false;
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      needs[i] = req_[node.inputs[i]] && reach[node.inputs[i]];
      any = any || needs[i];
    }
    if (!any) continue;
    SP_CHECK(node.diff_fn, "Tape::grad_graph: op '", node.op,
             "' has no differentiable backward (second-order gradients through it are not supported)");
    DiffBackwardCtx ctx(*this, node.inputs, node.output, g, needs);
    node.diff_fn(ctx);
    for (size_t i = 0; i < node.inputs.size(); ++i)
      for (Var gi : ctx.added(int(i))) full[node.inputs[i]].push_back(gi);
  }

  std::vector<Var> out;
  for (Var w : wrt) {
    int32_t r = root_of(w.id);
    if (w.id != r && total[r].valid()) {
      out.push_back(view(total[r], alias_[w.id].offset, values_[w.id].shape()));
    } else if (w.id == r && total[r].valid()) {
      out.push_back(total[r]);
    } else {
      out.push_back(leaf(Tensor::zeros(values_[w.id].shape(), values_[w.id].dtype(), stream_)));
    }
  }
  return out;
}

void Tape::clear() {
  values_.clear();
  req_.clear();
  alias_.clear();
  producer_.clear();
  nodes_.clear();
  tag_ = next_tag();
}

}  // namespace sp
