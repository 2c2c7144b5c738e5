// CPU reduction kernels (see kernels/reduce.h): the reducers of kernels/reduce_math.h run sequentially,
// sums accumulating in double. When the reduced dims are the outer ones the loop runs over reduced
// positions outside and outputs inside, so the input is read in memory order.
#include <vector>

#include "kernels/dispatch.h"
#include "kernels/reduce.h"

namespace sp {
namespace {

template <class R, class T>
void reduce_loop(const typename R::Out& out, const T* x, const ReduceGeom& g) {
  if (g.inner_reduced || g.outer == 1) {
    for (int64_t o = 0; o < g.outer; ++o) {
      const T* xo = x + index_offset(g.kept, o);
      auto st = R::init();
      for (int64_t r = 0; r < g.inner; ++r) R::add(st, xo[index_offset(g.red, r)], r);
      R::write(out, g, o, st);
    }
    return;
  }
  std::vector<typename R::State> st(size_t(g.outer), R::init());
  std::vector<int64_t> base(size_t(g.outer));
  for (int64_t o = 0; o < g.outer; ++o) base[o] = index_offset(g.kept, o);
  for (int64_t r = 0; r < g.inner; ++r) {
    int64_t ro = index_offset(g.red, r);
    for (int64_t o = 0; o < g.outer; ++o) R::add(st[o], x[base[o] + ro], r);
  }
  for (int64_t o = 0; o < g.outer; ++o) R::write(out, g, o, st[o]);
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
    for (int64_t i = 0, n = gx.numel(); i < n; ++i) {
      int64_t off[1];
      it.offsets(i, off);
      g[i] = blend(spread_grad(gyp, am, off[0], i), scalar_t(alpha), scalar_t(beta), g + i);
    }
  });
}

}  // namespace

SP_REGISTER_KERNEL(k_reduce_sum, CPU, reduce_sum_cpu);
SP_REGISTER_KERNEL(k_reduce_max, CPU, reduce_max_cpu);
SP_REGISTER_KERNEL(k_reduce_backward, CPU, reduce_backward_cpu);

}  // namespace sp
