// embedding and embedding_grad (see ops_embedding.h). The public functions check the host ids and upload
// them once; the ops themselves work on the device int64 copy, which each one's backward closures keep, so
// a gradient of any order reuses it without another upload. First-order backwards write into the gradient
// sink through the kernels (a gather with beta != 0 goes through a temporary and axpby).
#include "nn/ops_embedding.h"

#include "kernels/axpby.h"
#include "kernels/embedding.h"
#include "nn/op_registry.h"

namespace sp::ag {

SP_REGISTER_OP(embedding);
SP_REGISTER_OP(embedding_grad);

namespace {

Var gather_rows(Tape& t, Var weight, const Tensor& ids);
Var scatter_rows(Tape& t, Var grad_out, const Tensor& ids, int64_t V);

// The ids as an int64 [N] tensor on `dev`, after checking each lies in [0, V).
Tensor device_ids(const char* op, Stream& s, Device dev, const std::vector<int64_t>& ids, int64_t V) {
  for (size_t n = 0; n < ids.size(); ++n)
    SP_CHECK(ids[n] >= 0 && ids[n] < V, op, ": id ", ids[n], " at index ", n, " is outside [0, ", V, ")");
  return Tensor::from_vector(ids, {int64_t(ids.size())}).to(dev, s);
}

Var gather_rows(Tape& t, Var weight, const Tensor& ids) {
  Stream& s = t.stream();
  Tensor wv = t.value(weight).contiguous(s);
  Tensor y = Tensor::empty({ids.size(0), wv.size(1)}, wv.dtype(), s);
  embedding_forward(s, y, wv, ids);
  const int64_t V = wv.size(0);
  return t.record(
      "embedding", y, {weight},
      [ids](BackwardCtx& c) {
        if (!c.needs(0)) return;
        GradSink g = c.sink(0);
        Stream& s = c.stream();
        embedding_backward(s, g.t, c.grad_out().contiguous(s), ids, g.beta);
      },
      [ids, V](DiffBackwardCtx& c) { c.add(0, scatter_rows(c.tape(), c.grad_out(), ids, V)); });
}

Var scatter_rows(Tape& t, Var grad_out, const Tensor& ids, int64_t V) {
  Stream& s = t.stream();
  Tensor gv = t.value(grad_out).contiguous(s);
  SP_CHECK(gv.dim() == 2 && gv.size(0) == ids.size(0), "embedding_grad: output gradient ", gv.str(), " must be [",
           ids.size(0), ", D] for ", ids.size(0), " ids");
  Tensor gw = Tensor::empty({V, gv.size(1)}, gv.dtype(), s);
  embedding_backward(s, gw, gv, ids, 0.0);
  return t.record(
      "embedding_grad", gw, {grad_out},
      [ids](BackwardCtx& c) {
        if (!c.needs(0)) return;
        GradSink g = c.sink(0);
        Stream& s = c.stream();
        Tensor go = c.grad_out().contiguous(s);
        if (g.beta == 0.0f) {
          embedding_forward(s, g.t, go, ids);
        } else {
          Tensor u = Tensor::empty(g.t.shape(), g.t.dtype(), s);
          embedding_forward(s, u, go, ids);
          axpby(s, g.t, u, 1.0, 1.0);
        }
      },
      [ids](DiffBackwardCtx& c) { c.add(0, gather_rows(c.tape(), c.grad_out(), ids)); });
}

}  // namespace

Var embedding(Tape& t, Var weight, const std::vector<int64_t>& ids) {
  const Tensor& wv = t.value(weight);
  SP_CHECK(wv.dim() == 2, "embedding: weight ", wv.str(), " must be [V, D]");
  Tensor dev_ids = device_ids("embedding", t.stream(), wv.device(), ids, wv.size(0));
  return gather_rows(t, weight, dev_ids);
}

Var embedding_grad(Tape& t, Var grad_out, const std::vector<int64_t>& ids, int64_t num_embeddings) {
  SP_CHECK(num_embeddings >= 0, "embedding_grad: num_embeddings ", num_embeddings, " must be >= 0");
  Tensor dev_ids = device_ids("embedding_grad", t.stream(), t.value(grad_out).device(), ids, num_embeddings);
  return scatter_rows(t, grad_out, dev_ids, num_embeddings);
}

}  // namespace sp::ag
