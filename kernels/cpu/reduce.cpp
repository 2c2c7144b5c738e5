// CPU reduction kernels (see kernels/reduce.h): the reducers of kernels/reduce_math.h run sequentially per
// output (blocks of outputs on several threads), sums accumulating in double. When the reduced dims are the
// outer ones the loop runs over reduced positions outside and outputs inside, so the input is read in
// memory order.
#include <algorithm>
#include <functional>
#include <vector>

#include "kernels/cpu/strided_runs.h"
#include "kernels/dispatch.h"
#include "kernels/reduce.h"

namespace sp {
namespace {

// Outputs are split into blocks over kernels/cpu/parallel.h's threads when there is enough work; each
// output still accumulates its inputs in the same order, so results do not depend on the thread count.
template <class R, class T>
void reduce_loop(const typename R::Out& out, const T* x, const ReduceGeom& g) {
  constexpr int64_t kWork = int64_t(1) << 16;  // input elements per block, at least
  const int64_t per_block = std::max<int64_t>(1, kWork / std::max<int64_t>(1, g.inner));
  const int64_t blocks = (g.outer + per_block - 1) / per_block;
  auto run = [&](const std::function<void(int64_t, int64_t)>& block) {
    if (blocks <= 1 || g.outer * g.inner < 2 * kWork)
      block(0, g.outer);
    else
      cpu::parallel_for(blocks, [&](int64_t b) { block(b * per_block, std::min(g.outer, (b + 1) * per_block)); });
  };
  if (g.inner_reduced || g.outer == 1) {
    run([&](int64_t o0, int64_t o1) {
      for (int64_t o = o0; o < o1; ++o) {
        const T* xo = x + index_offset(g.kept, o);
        auto st = R::init();
        for (int64_t r = 0; r < g.inner; ++r) R::add(st, xo[index_offset(g.red, r)], r);
        R::write(out, g, o, st);
      }
    });
    return;
  }
  run([&](int64_t o0, int64_t o1) {
    std::vector<typename R::State> st(size_t(o1 - o0), R::init());
    std::vector<int64_t> base(size_t(o1 - o0));
    for (int64_t o = o0; o < o1; ++o) base[size_t(o - o0)] = index_offset(g.kept, o);
    for (int64_t r = 0; r < g.inner; ++r) {
      int64_t ro = index_offset(g.red, r);
      for (int64_t o = o0; o < o1; ++o) R::add(st[size_t(o - o0)], x[base[size_t(o - o0)] + ro], r);
    }
    for (int64_t o = o0; o < o1; ++o) R::write(out, g, o, st[size_t(o - o0)]);
  });
}

void reduce_sum_cpu(Stream&, const Tensor& out, const Tensor& in, double alpha, double beta) {
  ReduceGeom g = make_reduce_geom(in, out.shape());
  SP_DISPATCH_FLOAT(in.dtype(), "sum", {
    using R = SumReducer<scalar_t, double>;
    reduce_loop<R>(typename R::Out{out.data<scalar_t>(), alpha, beta}, in.data<scalar_t>(), g);
  });
}

void reduce_max_cpu(Stream&, const Tensor& out, const Tensor& argmax, const Tensor& in) {
  ReduceGeom g = make_reduce_geom(in, out.shape());
  SP_DISPATCH_FLOAT(in.dtype(), "max", {
    using R = MaxReducer<scalar_t>;
    reduce_loop<R>(typename R::Out{out.data<scalar_t>(), argmax.data<int64_t>()}, in.data<scalar_t>(), g);
  });
}

void reduce_backward_cpu(Stream&, const Tensor& gx, const Tensor& gy, const Tensor& argmax, double alpha,
                         double beta) {
  StridedIter<1> it = reduce_backward_iter(gx, gy);
  const int64_t* am = argmax.defined() ? argmax.data<int64_t>() : nullptr;
  SP_DISPATCH_FLOAT(gx.dtype(), "reduce_backward", {
    scalar_t* g = gx.data<scalar_t>();
    const scalar_t* gyp = gy.data<scalar_t>();
    cpu::for_each_run(it, gx.numel(), [&](int64_t i, int64_t len, const int64_t* off, const int64_t* step) {
      for (int64_t t = 0; t < len; ++t)
        g[i + t] = blend(spread_grad(gyp, am, off[0] + t * step[0], i + t), scalar_t(alpha), scalar_t(beta), g + i + t);
    });
  });
}

}  // namespace

SP_REGISTER_KERNEL(k_reduce_sum, CPU, reduce_sum_cpu);
SP_REGISTER_KERNEL(k_reduce_max, CPU, reduce_max_cpu);
SP_REGISTER_KERNEL(k_reduce_backward, CPU, reduce_backward_cpu);

}  // namespace sp
