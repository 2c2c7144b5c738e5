// CPU conv2d (see kernels/conv.h): im2col + CBLAS GEMM. Images are processed in chunks whose columns sit
// side by side in one col matrix [C/g * kh * kw, images * OH * OW], so each group needs one large GEMM per
// chunk instead of many thin ones (late ResNet layers have OH * OW = 16). OpenBLAS threads the GEMMs;
// im2col, col2im and the layout copies between NCHW and the chunk matrices run one (image, channel)
// pair per task on all cores.
// Scratch memory is kept per thread and reused across calls. These loops are the reference for float64 (and
// for float32 without the fast path); float32 goes to oneDNN when cpu::fast_path() is on (dnnl_conv.h).
// Channels-last calls on the reference path run these NCHW loops on permuted copies.
#include <cstdlib>
#include <cstring>

#include "kernels/conv.h"
#include "kernels/cpu/blas.h"
#include "kernels/cpu/fast_path.h"
#include "kernels/cpu/parallel.h"
#include "kernels/dispatch.h"
#if SP_HAVE_DNNL
#include "kernels/cpu/dnnl_conv.h"
#endif

namespace sp {
namespace {

class Scratch {
 public:
  ~Scratch() { std::free(p_); }
  template <class T>
  T* get(int64_t count) {
    size_t bytes = size_t(count) * sizeof(T);
    if (bytes > bytes_) {
      std::free(p_);
      bytes_ = (bytes + 4095) / 4096 * 4096;
      p_ = std::aligned_alloc(64, bytes_);
      SP_CHECK(p_, "conv2d: out of host memory for ", bytes_, " bytes of scratch");
    }
    return static_cast<T*>(p_);
  }

 private:
  void* p_ = nullptr;
  size_t bytes_ = 0;
};
thread_local Scratch col_scratch, mat_scratch;

// Output positions o in [0, out) with 0 <= o * stride + off < limit, as [*lo, *hi).
void valid_range(int64_t off, int64_t stride, int64_t limit, int64_t out, int64_t* lo, int64_t* hi) {
  int64_t l = off >= 0 ? 0 : (-off + stride - 1) / stride;
  int64_t h = limit - off <= 0 ? 0 : (limit - off - 1) / stride + 1;
  *lo = std::min(l, out);
  *hi = std::max(*lo, std::min(h, out));
}

// One input channel plane x [H, W] -> its kh * kw col rows (ki, kj), columns oh * OW + ow, leading
// dimension ld.
template <class T>
void im2col_channel(const T* x, const Conv2dGeom& g, T* col, int64_t ld) {
  for (int64_t ki = 0; ki < g.kh; ++ki)
    for (int64_t kj = 0; kj < g.kw; ++kj) {
      T* dst = col + (ki * g.kw + kj) * ld;
      int64_t wo = kj * g.dw - g.pw, lo, hi;
      valid_range(wo, g.sw, g.w, g.ow, &lo, &hi);
      for (int64_t oh = 0; oh < g.oh; ++oh, dst += g.ow) {
        int64_t ih = oh * g.sh - g.ph + ki * g.dh;
        if (ih < 0 || ih >= g.h) {
          std::fill(dst, dst + g.ow, T(0));
          continue;
        }
        const T* row = x + ih * g.w;  // input column of output ow: ow * sw + wo
        std::fill(dst, dst + lo, T(0));
        if (g.sw == 1)
          std::memcpy(dst + lo, row + lo + wo, size_t(hi - lo) * sizeof(T));
        else
          for (int64_t ow = lo; ow < hi; ++ow) dst[ow] = row[ow * g.sw + wo];
        std::fill(dst + hi, dst + g.ow, T(0));
      }
    }
}

// The adjoint of im2col_channel: dx[ih, iw] += the col entries that were copied from there.
template <class T>
void col2im_channel(const T* col, int64_t ld, const Conv2dGeom& g, T* dx) {
  for (int64_t ki = 0; ki < g.kh; ++ki)
    for (int64_t kj = 0; kj < g.kw; ++kj) {
      const T* src = col + (ki * g.kw + kj) * ld;
      int64_t wo = kj * g.dw - g.pw, lo, hi;
      valid_range(wo, g.sw, g.w, g.ow, &lo, &hi);
      for (int64_t oh = 0; oh < g.oh; ++oh, src += g.ow) {
        int64_t ih = oh * g.sh - g.ph + ki * g.dh;
        if (ih < 0 || ih >= g.h) continue;
        T* row = dx + ih * g.w;
        for (int64_t ow = lo; ow < hi; ++ow) row[ow * g.sw + wo] += src[ow];
      }
    }
}

// parallel_for when the loop moves enough elements to pay for waking the helper threads.
template <class F>
void maybe_parallel(int64_t n, int64_t elements, F&& f) {
  if (elements >= (int64_t(1) << 15)) {
    cpu::parallel_for(n, f);
  } else {
    for (int64_t i = 0; i < n; ++i) f(i);
  }
}

// Images per chunk: about 1024 columns (images * OH * OW) make the GEMMs efficient while the col matrix
// stays cache-friendly (measured on ResNet-18 CIFAR shapes: 4096 columns ran up to 2x slower on the
// 32x32 layers); at most 8 MiB of col.
int64_t chunk_images(const Conv2dGeom& g, size_t elem) {
  int64_t p = g.oh * g.ow, kc = g.c / g.groups * g.kh * g.kw;
  int64_t nb = std::clamp<int64_t>((1024 + p - 1) / p, 1, g.n);
  while (nb > 1 && size_t(kc * nb * p) * elem > (size_t(8) << 20)) --nb;
  return nb;
}

struct Dims {
  int64_t p, cg, og, kc, hw;
  explicit Dims(const Conv2dGeom& g)
      : p(g.oh * g.ow), cg(g.c / g.groups), og(g.o / g.groups), kc(cg * g.kh * g.kw), hw(g.h * g.w) {}
};

// Output-gradient rows of one group for images [n0, n0 + b) as a [og, b * P] matrix: a view into gy when
// b == 1, else gathered into scratch. Returns the matrix and sets *ld.
template <class T>
const T* gather_outputs(const T* gy, const Conv2dGeom& g, const Dims& d, int64_t n0, int64_t b, int64_t grp,
                        int64_t* ld) {
  const T* first = gy + (n0 * g.o + grp * d.og) * d.p;
  if (b == 1) {
    *ld = d.p;
    return first;
  }
  *ld = b * d.p;
  T* m = mat_scratch.get<T>(d.og * b * d.p);
  maybe_parallel(b * d.og, b * d.og * d.p, [&](int64_t k) {
    int64_t i = k / d.og, o = k % d.og;
    std::memcpy(m + o * b * d.p + i * d.p, first + (i * g.o + o) * d.p, size_t(d.p) * sizeof(T));
  });
  return m;
}

// col [kc, b * P] for images [n0, n0 + b) of group grp, built in scratch one (image, channel) pair per task.
template <class T>
const T* fill_cols(const T* x, const Conv2dGeom& g, const Dims& d, int64_t n0, int64_t b, int64_t grp) {
  int64_t ld = b * d.p, taps = g.kh * g.kw;
  T* col = col_scratch.get<T>(d.kc * ld);
  maybe_parallel(b * d.cg, b * d.kc * d.p, [&](int64_t k) {
    int64_t i = k / d.cg, c = k % d.cg;
    im2col_channel(x + ((n0 + i) * g.c + grp * d.cg + c) * d.hw, g, col + c * taps * ld + i * d.p, ld);
  });
  return col;
}

// f(n0, b) for each chunk of b images starting at image n0 (chunk size from chunk_images).
template <class T, class F>
void for_each_chunk(const Conv2dGeom& g, F&& f) {
  int64_t nb = chunk_images(g, sizeof(T));
  for (int64_t n0 = 0; n0 < g.n; n0 += nb) f(n0, std::min(nb, g.n - n0));
}

template <class T>
void conv_fwd(const T* x, const T* w, T* y, const Conv2dGeom& g) {
  Dims d(g);
  for_each_chunk<T>(g, [&](int64_t n0, int64_t b) {
    int64_t ld = b * d.p;
    for (int64_t grp = 0; grp < g.groups; ++grp) {
      const T* col = fill_cols(x, g, d, n0, b, grp);
      const T* wg = w + grp * d.og * d.kc;
      T* yg = y + (n0 * g.o + grp * d.og) * d.p;
      if (b == 1) {
        cpu::gemm_rm(false, false, d.og, d.p, d.kc, T(1), wg, d.kc, col, ld, T(0), yg, d.p);
        continue;
      }
      T* m = mat_scratch.get<T>(d.og * ld);
      cpu::gemm_rm(false, false, d.og, ld, d.kc, T(1), wg, d.kc, col, ld, T(0), m, ld);
      maybe_parallel(b * d.og, d.og * ld, [&](int64_t k) {
        int64_t i = k / d.og, o = k % d.og;
        std::memcpy(yg + (i * g.o + o) * d.p, m + o * ld + i * d.p, size_t(d.p) * sizeof(T));
      });
    }
  });
}

template <class T>
void conv_bwd_data(const T* gy, const T* w, T* dx, const Conv2dGeom& g, T beta) {
  Dims d(g);
  for_each_chunk<T>(g, [&](int64_t n0, int64_t b) {
    int64_t ld = b * d.p;
    if (beta != T(1))
      maybe_parallel(b, b * g.c * d.hw, [&](int64_t i) {
        T* img = dx + (n0 + i) * g.c * d.hw;
        if (beta == T(0))
          std::fill(img, img + g.c * d.hw, T(0));
        else
          for (int64_t k = 0; k < g.c * d.hw; ++k) img[k] *= beta;
      });
    for (int64_t grp = 0; grp < g.groups; ++grp) {
      int64_t ldg;
      const T* gyg = gather_outputs(gy, g, d, n0, b, grp, &ldg);
      T* dcol = col_scratch.get<T>(d.kc * ld);
      cpu::gemm_rm(true, false, d.kc, ld, d.og, T(1), w + grp * d.og * d.kc, d.kc, gyg, ldg, T(0), dcol, ld);
      int64_t taps = g.kh * g.kw;
      maybe_parallel(b * d.cg, b * d.kc * d.p, [&](int64_t k) {
        int64_t i = k / d.cg, c = k % d.cg;
        col2im_channel(dcol + c * taps * ld + i * d.p, ld, g, dx + ((n0 + i) * g.c + grp * d.cg + c) * d.hw);
      });
    }
  });
}

template <class T>
void conv_bwd_filter(const T* gy, const T* x, T* dw, const Conv2dGeom& g, T beta) {
  Dims d(g);
  for_each_chunk<T>(g, [&](int64_t n0, int64_t b) {
    int64_t ld = b * d.p;
    for (int64_t grp = 0; grp < g.groups; ++grp) {
      const T* col = fill_cols(x, g, d, n0, b, grp);
      int64_t ldg;
      const T* gyg = gather_outputs(gy, g, d, n0, b, grp, &ldg);
      cpu::gemm_rm(false, true, d.og, d.kc, ld, T(1), gyg, ldg, col, ld, n0 == 0 ? beta : T(1),
                   dw + grp * d.og * d.kc, d.kc);
    }
  });
}

// True when this float32 call goes to oneDNN.
bool use_fast(DType dt) { return SP_HAVE_DNNL && dt == DType::f32 && cpu::fast_path(); }

// The reference loops read NCHW, so a channels-last call runs them on NCHW copies of its activations (an
// output with beta != 0 is copied in too) and copies the result back: the reference is for checking, and
// the fast path reads NHWC itself.
Tensor nchw_copy(const Tensor& nhwc) { return nhwc.permute({0, 3, 1, 2}).contiguous(); }
void store_nhwc(const Tensor& nhwc, const Tensor& nchw) { nhwc.copy_(nchw.permute({0, 2, 3, 1})); }
Conv2dGeom nchw_geom(const Conv2dGeom& g) {
  Conv2dGeom r = g;
  r.layout = Layout::nchw;
  return r;
}

void conv_fwd_cpu(Stream& s, const Tensor& y, const Tensor& x, const Tensor& w, const Conv2dGeom& g);
void conv_bwd_data_cpu(Stream& s, const Tensor& dx, const Tensor& gy, const Tensor& w, const Conv2dGeom& g,
                       double beta);
void conv_bwd_filter_cpu(Stream& s, const Tensor& dw, const Tensor& gy, const Tensor& x, const Conv2dGeom& g,
                         double beta);

enum class Pass { fwd, bwd_data, bwd_filter };

// A channels-last call on the reference path, through NCHW copies: a and b are the pass's two inputs in
// kernel order (x, w / gy, w / gy, x).
bool ran_as_nchw(Stream& s, const Conv2dGeom& g, DType dt, const Tensor& out, const Tensor& a, const Tensor& b,
                 Pass pass, double beta) {
  if (g.layout != Layout::nhwc || use_fast(dt)) return false;
  const Conv2dGeom n = nchw_geom(g);
  if (pass == Pass::bwd_filter) {
    conv_bwd_filter_cpu(s, out, nchw_copy(a), nchw_copy(b), n, beta);
    return true;
  }
  Tensor o = pass == Pass::fwd ? Tensor::empty(n.y_shape(), dt) : nchw_copy(out);
  if (pass == Pass::fwd)
    conv_fwd_cpu(s, o, nchw_copy(a), b, n);
  else
    conv_bwd_data_cpu(s, o, nchw_copy(a), b, n, beta);
  store_nhwc(out, o);
  return true;
}

void conv_fwd_cpu(Stream& s, const Tensor& y, const Tensor& x, const Tensor& w, const Conv2dGeom& g) {
  if (ran_as_nchw(s, g, x.dtype(), y, x, w, Pass::fwd, 0.0)) return;
#if SP_HAVE_DNNL
  if (use_fast(x.dtype())) return cpu::dnnl_conv_fwd(x.data<float>(), w.data<float>(), y.data<float>(), g);
#endif
  SP_DISPATCH_FLOAT(x.dtype(), "conv2d", { conv_fwd(x.data<scalar_t>(), w.data<scalar_t>(), y.data<scalar_t>(), g); });
}
void conv_bwd_data_cpu(Stream& s, const Tensor& dx, const Tensor& gy, const Tensor& w, const Conv2dGeom& g,
                       double beta) {
  if (ran_as_nchw(s, g, gy.dtype(), dx, gy, w, Pass::bwd_data, beta)) return;
#if SP_HAVE_DNNL
  if (use_fast(gy.dtype()))
    return cpu::dnnl_conv_bwd_data(gy.data<float>(), w.data<float>(), dx.data<float>(), g, float(beta));
#endif
  SP_DISPATCH_FLOAT(gy.dtype(), "conv2d backward data", {
    conv_bwd_data(gy.data<scalar_t>(), w.data<scalar_t>(), dx.data<scalar_t>(), g, scalar_t(beta));
  });
}
void conv_bwd_filter_cpu(Stream& s, const Tensor& dw, const Tensor& gy, const Tensor& x, const Conv2dGeom& g,
                         double beta) {
  if (ran_as_nchw(s, g, gy.dtype(), dw, gy, x, Pass::bwd_filter, beta)) return;
#if SP_HAVE_DNNL
  if (use_fast(gy.dtype()))
    return cpu::dnnl_conv_bwd_filter(gy.data<float>(), x.data<float>(), dw.data<float>(), g, float(beta));
#endif
  SP_DISPATCH_FLOAT(gy.dtype(), "conv2d backward filter", {
    conv_bwd_filter(gy.data<scalar_t>(), x.data<scalar_t>(), dw.data<scalar_t>(), g, scalar_t(beta));
  });
}

}  // namespace
SP_REGISTER_KERNEL(k_conv2d_fwd, CPU, conv_fwd_cpu);
SP_REGISTER_KERNEL(k_conv2d_bwd_data, CPU, conv_bwd_data_cpu);
SP_REGISTER_KERNEL(k_conv2d_bwd_filter, CPU, conv_bwd_filter_cpu);
}  // namespace sp
