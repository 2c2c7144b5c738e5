// CPU embedding gather and scatter-add (see kernels/embedding.h). The scatter-add sums each gradient
// element over the ids in ascending order in the tensor's dtype, the order the CUDA kernel uses.
#include <vector>

#include "kernels/dispatch.h"
#include "kernels/embedding.h"
#include "kernels/stat_math.h"

namespace sp {
namespace {

void embedding_cpu(Stream&, const Tensor& y, const Tensor& weight, const Tensor& ids) {
  const int64_t N = ids.numel(), D = weight.size(1);
  const int64_t* id = ids.data<int64_t>();
  SP_DISPATCH_FLOAT(weight.dtype(), "embedding", {
    const scalar_t* w = weight.data<scalar_t>();
    scalar_t* yp = y.data<scalar_t>();
    for (int64_t n = 0; n < N; ++n)
      for (int64_t d = 0; d < D; ++d) yp[n * D + d] = w[id[n] * D + d];
  });
}

void embedding_backward_cpu(Stream&, const Tensor& gw, const Tensor& gy, const Tensor& ids, double beta) {
  const int64_t N = ids.numel(), V = gw.size(0), D = gw.size(1);
  const int64_t* id = ids.data<int64_t>();
  SP_DISPATCH_FLOAT(gw.dtype(), "embedding_backward", {
    const scalar_t* g = gy.data<scalar_t>();
    scalar_t* out = gw.data<scalar_t>();
    std::vector<scalar_t> acc(size_t(V * D), scalar_t(0));
    for (int64_t n = 0; n < N; ++n)
      for (int64_t d = 0; d < D; ++d) acc[size_t(id[n] * D + d)] += g[n * D + d];
    for (int64_t k = 0; k < V * D; ++k) stat::store_grad(out[k], acc[size_t(k)], scalar_t(beta));
  });
}

}  // namespace
SP_REGISTER_KERNEL(k_embedding, CPU, embedding_cpu);
SP_REGISTER_KERNEL(k_embedding_backward, CPU, embedding_backward_cpu);
}  // namespace sp
