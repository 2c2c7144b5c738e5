// CUDA reduction kernels (see kernels/reduce.h), using the reducers of kernels/reduce_math.h.
// Two layouts: when the input's fastest dim is reduced ("rows"), a warp or a whole block shares one output
// and reads consecutive elements; otherwise ("cols") each thread owns one output and neighbouring threads
// read neighbouring elements. When there are too few outputs to fill the GPU, the reduced range is split
// over blockIdx.y into partial states that a second kernel merges, one warp per output. The split depends
// only on the shape, and every merge follows a fixed tree, so results are deterministic.
// Compared with the CPU reference in tests/gpu/test_ops_reduce_gpu.cpp (up to 1e7-element reductions).
#include <algorithm>

#include "kernels/cuda/cuda_context.h"
#include "kernels/dispatch.h"
#include "kernels/reduce.h"

namespace sp {
namespace {

constexpr unsigned kFullMask = 0xffffffffu;
constexpr int kWarp = 32;
// Enough blocks of kBlock threads to fill a large GPU about twice over; below it the reduction is split.
constexpr int64_t kTargetBlocks = 2048;
constexpr int64_t kMaxSplits = 65535;  // gridDim.y limit

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Warp shuffle of a reducer's state.
template <class R>
struct Shuffle;
template <class T, class A>
struct Shuffle<SumReducer<T, A>> {
  using S = typename SumReducer<T, A>::State;
  static __device__ S down(S s, int d) {
    s.v = __shfl_down_sync(kFullMask, s.v, d);
    return s;
  }
};
template <class T>
struct Shuffle<MaxReducer<T>> {
  using S = typename MaxReducer<T>::State;
  static __device__ S down(S s, int d) {
    s.v = __shfl_down_sync(kFullMask, s.v, d);
    s.i = int64_t(__shfl_down_sync(kFullMask, (long long)s.i, d));
    return s;
  }
};

// Merges the states of a group of WARPS whole warps (WARPS > 1 means the whole block, whose threads must
// all call this). The result is valid in the group's first thread.
template <class R, int WARPS>
__device__ typename R::State group_reduce(typename R::State s) {
  for (int d = kWarp / 2; d > 0; d /= 2) R::merge(s, Shuffle<R>::down(s, d));
  if constexpr (WARPS > 1) {
    __shared__ typename R::State partial[WARPS];
    int warp = threadIdx.x / kWarp, lane = threadIdx.x % kWarp;
    if (lane == 0) partial[warp] = s;
    __syncthreads();
    if (warp == 0) {
      s = lane < WARPS ? partial[lane] : R::init();
      for (int d = WARPS / 2; d > 0; d /= 2) R::merge(s, Shuffle<R>::down(s, d));
    }
  }
  return s;
}

// One output per group of WARPS warps; blockIdx.y picks the chunk [r0, r1) of the reduced range. With one
// split the result is written, otherwise the partial state goes to partial[o * splits + blockIdx.y].
template <class R, int WARPS, class T>
__global__ void reduce_rows_kernel(typename R::Out out, typename R::State* partial, const T* x, ReduceGeom g,
                                   int64_t chunk, int splits) {
  constexpr int kGroup = kWarp * WARPS, kGroups = kBlock / kGroup;
  int lane = threadIdx.x % kGroup;
  int64_t o = int64_t(blockIdx.x) * kGroups + threadIdx.x / kGroup;
  if (o >= g.outer) return;  // uniform over the group (the whole block when WARPS > 1)
  int64_t r0 = int64_t(blockIdx.y) * chunk, r1 = r0 + chunk < g.inner ? r0 + chunk : g.inner;
  const T* xo = x + index_offset(g.kept, o);
  auto st = R::init();
  for (int64_t r = r0 + lane; r < r1; r += kGroup) R::add(st, xo[index_offset(g.red, r)], r);
  st = group_reduce<R, WARPS>(st);
  if (lane != 0) return;
  if (splits == 1)
    R::write(out, g, o, st);
  else
    partial[o * splits + blockIdx.y] = st;
}

// One output per thread, same chunking as above.
template <class R, class T>
__global__ void reduce_cols_kernel(typename R::Out out, typename R::State* partial, const T* x, ReduceGeom g,
                                   int64_t chunk, int splits) {
  int64_t o = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (o >= g.outer) return;
  int64_t r0 = int64_t(blockIdx.y) * chunk, r1 = r0 + chunk < g.inner ? r0 + chunk : g.inner;
  const T* xo = x + index_offset(g.kept, o);
  auto st = R::init();
  for (int64_t r = r0; r < r1; ++r) R::add(st, xo[index_offset(g.red, r)], r);
  if (splits == 1)
    R::write(out, g, o, st);
  else
    partial[o * splits + blockIdx.y] = st;
}

// One warp per output merges its `splits` partial states.
template <class R>
__global__ void reduce_finish_kernel(typename R::Out out, const typename R::State* partial, ReduceGeom g,
                                     int splits) {
  int64_t o = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) / kWarp;
  int lane = threadIdx.x % kWarp;
  if (o >= g.outer) return;  // uniform over the warp: blockDim is a multiple of 32
  auto st = R::init();
  for (int s = lane; s < splits; s += kWarp) R::merge(st, partial[o * splits + s]);
  st = group_reduce<R, 1>(st);
  if (lane == 0) R::write(out, g, o, st);
}

template <class R, class T>
void launch_reduce(Stream& s, const typename R::Out& out, const T* x, const ReduceGeom& g) {
  cudaStream_t cs = cuda_stream(s);
  const int64_t O = g.outer, R_ = g.inner;
  // Rows when the reduced dim is the fast one and long enough to give a warp work; a whole block per
  // output once it is long.
  bool rows = g.inner_reduced && R_ >= kWarp;
  int warps = rows && R_ >= 1024 ? kBlock / kWarp : 1;
  int64_t outputs_per_block = rows ? kBlock / (kWarp * warps) : kBlock;
  int64_t bx = ceil_div(O, outputs_per_block);
  SP_CHECK(bx <= 0x7fffffff, "reduce: ", O, " outputs exceed the grid");
  // Split the reduced range when the outputs alone give too few blocks, keeping >= min_chunk elements
  // per split (8 per thread for rows, 16 per thread for cols).
  int64_t min_chunk = rows ? int64_t(kWarp) * warps * 8 : 16;
  int64_t splits = 1;
  if (bx < kTargetBlocks)
    splits = std::max<int64_t>(1, std::min({ceil_div(kTargetBlocks, bx), ceil_div(R_, min_chunk), kMaxSplits}));
  int64_t chunk = ceil_div(R_, splits);
  splits = ceil_div(R_, chunk);  // no empty chunk

  Tensor partial_buf;
  typename R::State* partial = nullptr;
  if (splits > 1) {
    partial_buf = Tensor::empty({int64_t(sizeof(typename R::State)) * O * splits}, DType::u8, s);
    partial = static_cast<typename R::State*>(partial_buf.raw_data());
  }
  dim3 grid(static_cast<unsigned>(bx), static_cast<unsigned>(splits));
  if (rows && warps > 1)
    reduce_rows_kernel<R, kBlock / kWarp><<<grid, kBlock, 0, cs>>>(out, partial, x, g, chunk, int(splits));
  else if (rows)
    reduce_rows_kernel<R, 1><<<grid, kBlock, 0, cs>>>(out, partial, x, g, chunk, int(splits));
  else
    reduce_cols_kernel<R><<<grid, kBlock, 0, cs>>>(out, partial, x, g, chunk, int(splits));
  SP_CUDA_LAUNCH_CHECK();
  if (splits > 1) {
    reduce_finish_kernel<R><<<grid_1d(O * kWarp), kBlock, 0, cs>>>(out, partial, g, int(splits));
    SP_CUDA_LAUNCH_CHECK();
  }
}

template <class T, class I>
__global__ void reduce_backward_kernel(T* gx, const T* gy, const int64_t* argmax, StridedIter<1, I> it, int64_t n,
                                       T alpha, T beta) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    I off[1];
    it.offsets(I(i), off);
    gx[i] = blend(spread_grad(gy, argmax, int64_t(off[0]), i), alpha, beta, gx + i);
  }
}

void reduce_sum_cuda(Stream& s, const Tensor& out, const Tensor& in, double alpha, double beta) {
  ReduceGeom g = make_reduce_geom(in, out.shape());
  SP_DISPATCH_FLOAT(in.dtype(), "sum", {
    using R = SumReducer<scalar_t, scalar_t>;
    launch_reduce<R>(s, typename R::Out{out.data<scalar_t>(), scalar_t(alpha), scalar_t(beta)},
                     in.data<scalar_t>(), g);
  });
}

void reduce_max_cuda(Stream& s, const Tensor& out, const Tensor& argmax, const Tensor& in) {
  ReduceGeom g = make_reduce_geom(in, out.shape());
  SP_DISPATCH_FLOAT(in.dtype(), "max", {
    using R = MaxReducer<scalar_t>;
    launch_reduce<R>(s, typename R::Out{out.data<scalar_t>(), argmax.data<int64_t>()}, in.data<scalar_t>(), g);
  });
}

void reduce_backward_cuda(Stream& s, const Tensor& gx, const Tensor& gy, const Tensor& argmax, double alpha,
                          double beta) {
  int64_t n = gx.numel();
  StridedIter<1> it = reduce_backward_iter(gx, gy);
  const int64_t* am = argmax.defined() ? argmax.data<int64_t>() : nullptr;
  cudaStream_t cs = cuda_stream(s);
  SP_DISPATCH_FLOAT(gx.dtype(), "reduce_backward", {
    auto launch = [&](auto iter) {
      using I = typename decltype(iter)::index_type;
      reduce_backward_kernel<scalar_t, I><<<grid_1d(n), kBlock, 0, cs>>>(
          gx.data<scalar_t>(), gy.data<scalar_t>(), am, iter, n, scalar_t(alpha), scalar_t(beta));
    };
    if (it.fits_int32(n))  // 32-bit index arithmetic: much cheaper division
      launch(it.narrow<int32_t>());
    else
      launch(it);
  });
  SP_CUDA_LAUNCH_CHECK();
}

}  // namespace

SP_REGISTER_KERNEL(k_reduce_sum, CUDA, reduce_sum_cuda);
SP_REGISTER_KERNEL(k_reduce_max, CUDA, reduce_max_cuda);
SP_REGISTER_KERNEL(k_reduce_backward, CUDA, reduce_backward_cuda);

}  // namespace sp
