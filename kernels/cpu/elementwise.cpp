// CPU activation and binary kernels (see kernels/elementwise.h); the per-element math is
// kernels/elementwise_math.h, shared with kernels/cuda/elementwise.cu. Contiguous runs without accumulation
// (beta = 0, the common case in training) get loops of their own that the compiler vectorises: the general
// strided, accumulating loops ran ReLU and the residual add at about a third of memory speed.
#include "kernels/cpu/strided_runs.h"
#include "kernels/dispatch.h"
#include "kernels/elementwise.h"

namespace sp {
namespace {

template <Act A, class T>
void activation_loop(T* y, const T* x, const StridedIter<1>& it, int64_t n, T slope) {
  cpu::for_each_run(it, n, [&](int64_t i, int64_t len, const int64_t* off, const int64_t* step) {
    const T* xp = x + off[0];
    T* yp = y + i;
    if (step[0] == 1) {
      for (int64_t t = 0; t < len; ++t) yp[t] = act_forward<A>(xp[t], slope);
    } else {
      for (int64_t t = 0; t < len; ++t) yp[t] = act_forward<A>(xp[t * step[0]], slope);
    }
  });
}

template <Act A, class T>
void activation_backward_loop(T* gx, const T* gy, const T* saved, const StridedIter<1>& it, int64_t n, T slope,
                              T beta) {
  cpu::for_each_run(it, n, [&](int64_t i, int64_t len, const int64_t* off, const int64_t* step) {
    const T* sp = saved + off[0];
    const T* g = gy + i;
    T* o = gx + i;
    if (step[0] == 1 && beta == T(0)) {
      for (int64_t t = 0; t < len; ++t) o[t] = act_backward<A>(sp[t], g[t], slope);
    } else {
      for (int64_t t = 0; t < len; ++t) o[t] = blend(act_backward<A>(sp[t * step[0]], g[t], slope), T(1), beta, o + t);
    }
  });
}

template <BinaryOp OP, class T>
void binary_loop(T* out, const T* a, const T* b, const StridedIter<2>& it, int64_t n, T alpha, T beta) {
  cpu::for_each_run(it, n, [&](int64_t i, int64_t len, const int64_t* off, const int64_t* step) {
    const T *ap = a + off[0], *bp = b + off[1];
    const int64_t sa = step[0], sb = step[1];
    T* o = out + i;
    if (sa == 1 && sb == 1 && beta == T(0)) {
      for (int64_t t = 0; t < len; ++t) o[t] = alpha * binary_apply<OP>(ap[t], bp[t]);
    } else if (sa == 1 && sb == 1) {
      for (int64_t t = 0; t < len; ++t) o[t] = blend(binary_apply<OP>(ap[t], bp[t]), alpha, beta, o + t);
    } else {
      for (int64_t t = 0; t < len; ++t)
        o[t] = blend(binary_apply<OP>(ap[t * sa], bp[t * sb]), alpha, beta, o + t);
    }
  });
}

void activation_cpu(Stream&, const Tensor& y, const Tensor& x, Act act, double slope) {
  auto it = make_strided_iter<1>(x.shape(), {x.strides()});
  SP_DISPATCH_FLOAT(x.dtype(), act_name(act), {
    dispatch_act(act, [&](auto A) {
      activation_loop<decltype(A)::value>(y.data<scalar_t>(), x.data<scalar_t>(), it, y.numel(), scalar_t(slope));
    });
  });
}

void activation_backward_cpu(Stream&, const Tensor& gx, const Tensor& gy, const Tensor& saved, Act act,
                             double slope, double beta) {
  auto it = make_strided_iter<1>(saved.shape(), {saved.strides()});
  SP_DISPATCH_FLOAT(gx.dtype(), act_name(act), {
    dispatch_act(act, [&](auto A) {
      activation_backward_loop<decltype(A)::value>(gx.data<scalar_t>(), gy.data<scalar_t>(),
                                                   saved.data<scalar_t>(), it, gx.numel(), scalar_t(slope),
                                                   scalar_t(beta));
    });
  });
}

void binary_cpu(Stream&, const Tensor& out, const Tensor& a, const Tensor& b, BinaryOp op, double alpha,
                double beta) {
  auto it = binary_iter(out, a, b);
  SP_DISPATCH_FLOAT(out.dtype(), binary_name(op), {
    dispatch_binary(op, [&](auto OP) {
      binary_loop<decltype(OP)::value>(out.data<scalar_t>(), a.data<scalar_t>(), b.data<scalar_t>(), it,
                                       out.numel(), scalar_t(alpha), scalar_t(beta));
    });
  });
}

}  // namespace

SP_REGISTER_KERNEL(k_activation, CPU, activation_cpu);
SP_REGISTER_KERNEL(k_activation_backward, CPU, activation_backward_cpu);
SP_REGISTER_KERNEL(k_binary, CPU, binary_cpu);

}  // namespace sp
