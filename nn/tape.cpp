// Reverse-mode sweep over the tape (see tape.h). Tested in tests/test_tape.cpp.
#include "nn/tape.h"

#include "kernels/error.h"

namespace sp {

Stream& BackwardCtx::stream() const { return tape_.stream_; }
const Tensor& BackwardCtx::grad_out() const { return tape_.grads_[tape_.nodes_[node_].output]; }
const Tensor& BackwardCtx::out() const { return tape_.values_[tape_.nodes_[node_].output]; }
const Tensor& BackwardCtx::in(int i) const { return tape_.values_[tape_.nodes_[node_].inputs.at(i)]; }
bool BackwardCtx::needs(int i) const { return tape_.req_[tape_.nodes_[node_].inputs.at(i)]; }
GradSink BackwardCtx::sink(int i) const { return tape_.sink_for(tape_.nodes_[node_].inputs.at(i)); }

Var Tape::add_value(const Tensor& t, bool req) {
  SP_CHECK(t.defined(), "Tape: recording an undefined tensor");
  values_.push_back(t);
  req_.push_back(req);
  alias_.push_back({});
  return Var{int32_t(values_.size() - 1)};
}

Var Tape::leaf(const Tensor& t, bool requires_grad) {
  SP_CHECK(t.device() == stream_.device(), "Tape::leaf: tensor ", t.str(), " is not on the tape's device ",
           stream_.device());
  return add_value(t, requires_grad);
}

const Tensor& Tape::value(Var v) const {
  SP_CHECK(v.id >= 0 && v.id < int(values_.size()), "Tape: invalid var ", v.id);
  return values_[v.id];
}

bool Tape::requires_grad(Var v) const {
  value(v);
  return req_[v.id];
}

Var Tape::record(const Tensor& out, std::initializer_list<Var> inputs, BackwardFn fn) {
  return record(out, std::span<const Var>(inputs.begin(), inputs.size()), std::move(fn));
}

Var Tape::record(const Tensor& out, std::span<const Var> inputs, BackwardFn fn) {
  bool req = false;
  for (Var v : inputs) {
    value(v);
    req = req || req_[v.id];
  }
  req = req && recording_;
  Var o = add_value(out, req);
  if (req) {
    Node n{{}, o.id, std::move(fn)};
    for (Var v : inputs) n.inputs.push_back(v.id);
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

GradSink Tape::sink_for(int32_t v) {
  const Alias& a = alias_[v];
  if (a.base >= 0) {
    Tensor& g = grads_[a.base];
    if (!g.defined()) {
      g = Tensor::zeros(values_[a.base].shape(), values_[a.base].dtype(), stream_);
      written_[a.base] = true;
    }
    return {g.flatten().slice(0, a.offset, a.offset + values_[v].numel()).view(values_[v].shape()), 1.0f};
  }
  Tensor& g = grads_[v];
  if (!g.defined()) g = Tensor::empty(values_[v].shape(), values_[v].dtype(), stream_);
  float beta = written_[v] ? 1.0f : 0.0f;
  written_[v] = true;
  return {g, beta};
}

std::vector<Tensor> Tape::grad(Var loss, std::span<const Var> wrt, const Tensor* seed) {
  const Tensor& L = value(loss);
  grads_.assign(values_.size(), Tensor());
  written_.assign(values_.size(), 0);
  if (seed) {
    check_same_shape("Tape::grad seed", *seed, L);
    grads_[loss.id] = seed->contiguous(stream_);
  } else {
    SP_CHECK(L.numel() == 1, "Tape::grad: loss ", L.str(), " is not a scalar; pass a seed gradient");
    grads_[loss.id] = Tensor::full(L.shape(), 1.0, L.dtype(), stream_);
  }
  written_[loss.id] = true;
  int root = alias_[loss.id].base;
  if (root >= 0) {  // loss is itself a view: start from its root's buffer
    grads_[root] = Tensor::zeros(values_[root].shape(), values_[root].dtype(), stream_);
    written_[root] = true;
    sink_for(loss.id).t.copy_(grads_[loss.id], stream_);
  }
  std::vector<uint8_t> keep(values_.size(), 0);
  for (Var w : wrt) {
    value(w);
    keep[w.id] = 1;
    if (alias_[w.id].base >= 0) keep[alias_[w.id].base] = 1;
  }
  keep[loss.id] = 1;

  for (int n = int(nodes_.size()) - 1; n >= 0; --n) {
    Node& node = nodes_[n];
    int32_t o = node.output;
    int32_t src = alias_[o].base >= 0 ? alias_[o].base : o;
    if (!written_[src]) continue;  // nothing flows into this node
    BackwardCtx ctx(*this, n);
    if (alias_[o].base >= 0 && !grads_[o].defined()) grads_[o] = sink_for(o).t;  // view of the root buffer
    node.fn(ctx);
    if (!keep[o]) grads_[o] = Tensor();  // free as soon as consumed
  }

  std::vector<Tensor> out;
  for (Var w : wrt) {
    const Alias& a = alias_[w.id];
    int32_t src = a.base >= 0 ? a.base : w.id;
    if (!written_[src]) {
      out.push_back(Tensor::zeros(values_[w.id].shape(), values_[w.id].dtype(), stream_));
    } else if (a.base >= 0) {
      out.push_back(grads_[a.base].flatten().slice(0, a.offset, a.offset + values_[w.id].numel()).view(
          values_[w.id].shape()));
    } else {
      out.push_back(grads_[w.id]);
    }
  }
  grads_.clear();
  written_.clear();
  return out;
}

void Tape::clear() {
  values_.clear();
  req_.clear();
  alias_.clear();
  nodes_.clear();
}

}  // namespace sp
