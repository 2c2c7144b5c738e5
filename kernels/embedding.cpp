// Kernel objects and validating wrappers of the embedding gather and scatter-add (see embedding.h).
#include "kernels/embedding.h"

#include "kernels/arg_check.h"

namespace sp {

constinit Kernel<EmbeddingFn> k_embedding("embedding");
constinit Kernel<EmbeddingBackwardFn> k_embedding_backward("embedding_backward");

namespace {

// table: the [V, D] weight or its gradient; rows: the [N, D] output or its gradient.
void check_embedding_args(const char* op, Stream& s, const Tensor& table, const char* table_what, const Tensor& rows,
                          const char* rows_what, const Tensor& ids) {
  check_float_input(op, table, s, table_what);
  SP_CHECK(table.dim() == 2, op, ": ", table_what, " ", table.str(), " must be [V, D]");
  SP_CHECK(ids.defined(), op, ": ids are undefined");
  SP_CHECK(ids.dtype() == DType::i64, op, ": ids ", ids.str(), " must be int64 (I64)");
  SP_CHECK(ids.dim() == 1, op, ": ids ", ids.str(), " must be [N]");
  SP_CHECK(ids.device() == table.device(), op, ": ids ", ids.str(), " and ", table_what, " ", table.str(),
           " are on different devices");
  check_contiguous(op, "ids", ids);
  check_arg_like(op, rows_what, rows, table, {ids.size(0), table.size(1)}, true);
  if (!ids.device().is_cpu()) return;  // the CUDA kernels mark bad ids instead (see embedding.h)
  const int64_t* id = ids.data<int64_t>();
  const int64_t V = table.size(0);
  for (int64_t n = 0; n < ids.numel(); ++n)
    SP_CHECK(id[n] >= 0 && id[n] < V, op, ": id ", id[n], " at index ", n, " is outside [0, ", V, ") for ",
             table_what, " ", table.str());
}

}  // namespace

void embedding_forward(Stream& s, const Tensor& y, const Tensor& weight, const Tensor& ids) {
  check_embedding_args("embedding", s, weight, "weight", y, "output", ids);
  if (y.numel() == 0) return;
  k_embedding(weight.device(), s, y, weight, ids);
}

void embedding_backward(Stream& s, const Tensor& gw, const Tensor& gy, const Tensor& ids, double beta) {
  check_embedding_args("embedding_backward", s, gw, "weight gradient", gy, "output gradient", ids);
  if (gw.numel() == 0) return;
  k_embedding_backward(gw.device(), s, gw, gy, ids, beta);
}

}  // namespace sp
