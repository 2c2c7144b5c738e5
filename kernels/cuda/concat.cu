// CUDA concat and its backward (see kernels/concat.h): up to kMaxParts parts per launch, blockIdx.y picks
// the part and a grid-stride loop copies its elements (contiguous reads; writes contiguous within each
// row of the part). Index math in kernels/shape_math.h, shared with the CPU reference; compared with it in
// tests/gpu/test_ops_shape_gpu.cpp.
#include <algorithm>

#include "kernels/concat.h"
#include "kernels/cuda/cuda_context.h"
#include "kernels/dispatch.h"
#include "kernels/elementwise_math.h"
#include "kernels/shape_math.h"

namespace sp {
namespace {

constexpr int kMaxParts = 16;
constexpr int64_t kMaxGridX = 8192;  // grid-stride beyond this

// Parts of one launch, passed by value. ptr: source (forward) or gradient (backward) of each part.
template <class T>
struct PartBatch {
  T* ptr[kMaxParts];
  int64_t seg[kMaxParts];  // elements per outer row of the part
  int64_t col[kMaxParts];  // offset of the part within an output row
  T beta[kMaxParts];
};

template <class T>
__global__ void concat_kernel(T* out, PartBatch<T> b, int64_t outer, int64_t row) {
  int k = blockIdx.y;
  int64_t seg = b.seg[k], col = b.col[k], n = outer * seg;
  const T* src = b.ptr[k];
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < n; e += int64_t(gridDim.x) * blockDim.x)
    out[concat_out_index(e, seg, col, row)] = src[e];
}

template <class T>
__global__ void concat_backward_kernel(const T* gy, PartBatch<T> b, int64_t outer, int64_t row) {
  int k = blockIdx.y;
  int64_t seg = b.seg[k], col = b.col[k], n = outer * seg;
  T* dst = b.ptr[k];
  T beta = b.beta[k];
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < n; e += int64_t(gridDim.x) * blockDim.x)
    dst[e] = blend(gy[concat_out_index(e, seg, col, row)], T(1), beta, dst + e);
}

// Fills batches of non-empty parts and launches `launch(batch, count, max_elements)` for each.
template <class T, class Item, class Fill, class Launch>
void for_each_batch(std::span<const Item> items, int64_t outer, Fill fill, Launch launch) {
  PartBatch<T> b{};
  int count = 0;
  int64_t max_n = 0;
  for (const Item& it : items) {
    int64_t seg = 0;
    fill(b, count, it, seg);
    if (seg == 0) continue;  // an empty part: nothing to copy
    max_n = std::max(max_n, outer * seg);
    if (++count == kMaxParts) {
      launch(b, count, max_n);
      count = 0;
      max_n = 0;
    }
  }
  if (count > 0) launch(b, count, max_n);
}

void concat_cuda(Stream& s, const Tensor& out, std::span<const Tensor> parts, int axis) {
  ConcatGeom g = concat_geom(out.shape(), axis);
  int64_t row = g.total * g.inner;
  cudaStream_t cs = cuda_stream(s);
  SP_DISPATCH_FLOAT(out.dtype(), "concat", {
    int64_t start = 0;
    auto fill = [&](PartBatch<scalar_t>& b, int k, const Tensor& p, int64_t& seg) {
      seg = p.size(axis) * g.inner;
      b.ptr[k] = p.data<scalar_t>();
      b.seg[k] = seg;
      b.col[k] = start * g.inner;
      b.beta[k] = scalar_t(0);
      start += p.size(axis);
    };
    auto launch = [&](const PartBatch<scalar_t>& b, int count, int64_t max_n) {
      dim3 grid(unsigned(std::min<int64_t>(grid_1d(max_n), kMaxGridX)), unsigned(count));
      concat_kernel<scalar_t><<<grid, kBlock, 0, cs>>>(out.data<scalar_t>(), b, g.outer, row);
      SP_CUDA_LAUNCH_CHECK();
    };
    for_each_batch<scalar_t>(parts, g.outer, fill, launch);
  });
}

void concat_backward_cuda(Stream& s, std::span<const ConcatGrad> grads, const Tensor& gy, int axis) {
  ConcatGeom g = concat_geom(gy.shape(), axis);
  int64_t row = g.total * g.inner;
  cudaStream_t cs = cuda_stream(s);
  SP_DISPATCH_FLOAT(gy.dtype(), "concat_backward", {
    auto fill = [&](PartBatch<scalar_t>& b, int k, const ConcatGrad& cg, int64_t& seg) {
      seg = cg.grad.size(axis) * g.inner;
      b.ptr[k] = cg.grad.data<scalar_t>();
      b.seg[k] = seg;
      b.col[k] = cg.start * g.inner;
      b.beta[k] = scalar_t(cg.beta);
    };
    auto launch = [&](const PartBatch<scalar_t>& b, int count, int64_t max_n) {
      dim3 grid(unsigned(std::min<int64_t>(grid_1d(max_n), kMaxGridX)), unsigned(count));
      concat_backward_kernel<scalar_t><<<grid, kBlock, 0, cs>>>(gy.data<scalar_t>(), b, g.outer, row);
      SP_CUDA_LAUNCH_CHECK();
    };
    for_each_batch<scalar_t>(grads, g.outer, fill, launch);
  });
}

}  // namespace

SP_REGISTER_KERNEL(k_concat, CUDA, concat_cuda);
SP_REGISTER_KERNEL(k_concat_backward, CUDA, concat_backward_cuda);

}  // namespace sp
