// float32 conv2d on oneDNN (see dnnl_conv.h). oneDNN's fast convolutions want blocked or channels-last
// layouts; on plain NCHW it falls back to an im2col GEMM whose filter gradient ran 5x slower than our own
// (measured with DNNL_VERBOSE on width-8 ResNet-18, batch 128). So every primitive is created with the
// activation layout of act_tag() and the filter layout left to oneDNN, and each operand whose layout is not
// the caller's (NCHW or NHWC activations, OIHW filters) passes through a reorder into (or out of) a
// per-thread buffer; channels-last callers' activations need none (but for strided 1x1 convolutions). Primitives and
// reorders are built once per geometry and pass and kept per thread: building a primitive descriptor costs
// tens of microseconds even when oneDNN's own cache already holds the primitive.
// Threads: the batch is cut into chunks of images whose size depends on the batch size alone, chunks run in
// parallel on kernels/cpu/parallel.h's pool, each on a single-threaded primitive, and the filter gradient
// sums the chunks' partial gradients in chunk order. So every result is the same whatever the thread count
// (sp_audit's single-threaded workers and a two-thread sp_train give identical bytes, which
// tests/test_sp_audit.cpp checks).
#include "kernels/cpu/dnnl_conv.h"

#include <array>
#include <map>
#include <unordered_map>
#include <vector>

#include "kernels/cpu/dnnl_util.h"
#include "kernels/cpu/parallel.h"

namespace sp::cpu {
namespace {

using dnnl::memory;
using tag = memory::format_tag;

enum class Pass : int64_t { fwd, bwd_data, bwd_filter };

memory::dims x_dims(const Conv2dGeom& g) { return {g.n, g.c, g.h, g.w}; }
memory::dims y_dims(const Conv2dGeom& g) { return {g.n, g.o, g.oh, g.ow}; }
// Grouped filters [O, C/g, kh, kw] are, byte for byte, goihw [g, O/g, C/g, kh, kw].
memory::dims w_dims(const Conv2dGeom& g) {
  if (g.groups == 1) return {g.o, g.c, g.kh, g.kw};
  return {g.groups, g.o / g.groups, g.c / g.groups, g.kh, g.kw};
}
tag w_tag(const Conv2dGeom& g) { return g.groups == 1 ? tag::oihw : tag::goihw; }
memory::desc md(const memory::dims& d, tag t) { return memory::desc(d, memory::data_type::f32, t); }
// The activation layout oneDNN is asked to choose from. Left to oneDNN ("any") it picks 16-channel blocks,
// which pad 8-channel layers to twice their size (and their reorders with them); channels-last (nhwc) keeps
// those exact. Measured on width-8 and width-16 ResNet-18, batch 128, one thread (docs/benchmarks.md): width
// 8 trained 12% faster with nhwc, width 16 5% faster with "any". A 3-channel image input goes either way.
// Channels-last calls (Conv2dGeom::layout nhwc) take nhwc wherever it is safe, so their activations pass
// through no reorder at all. Blocked layouts behind nhwc <-> blocked reorders for the layers with 16k
// channels, as NCHW calls take them, were slower: width-16 ResNet-18, batch 128, one thread, process CPU time
// per step on a loaded box, 435 ms training and 1.49 s per 1,008-image query block against 388-402 ms and
// 1.39-1.40 s all nhwc (NCHW calls: 413-428 ms and 1.44-1.55 s).
tag act_tag(const Conv2dGeom& g) {
  // oneDNN 2.6.3's strided 1x1 convolutions on channels-last (ResNet's projection shortcuts) corrupted the
  // heap: glibc aborted 4 of 4 concurrent tiny sp_train runs ("double free or corruption"), and none with
  // these convolutions left blocked. tests/test_cpu_fast_path.cpp runs such shapes many times over. On
  // channels-last calls too these convolutions stay blocked, behind reorders from and to nhwc (the same
  // primitive as for NCHW calls; the shortcuts are a small share of the step).
  if (g.kh == 1 && g.kw == 1 && (g.sh > 1 || g.sw > 1)) return tag::any;
  if (g.layout == Layout::nhwc) return tag::nhwc;
  bool blocks = (g.c % 16 == 0 || g.c <= 4) && g.o % 16 == 0;
  return blocks ? tag::any : tag::nhwc;
}
// The layout of the caller's activations.
tag plain_tag(const Conv2dGeom& g) { return g.layout == Layout::nhwc ? tag::nhwc : tag::nchw; }

// One operand of a primitive: the project's plain layout and, when oneDNN chose another, that layout and the
// reorder that fills it (inputs) or empties it (outputs).
struct Operand {
  int arg = 0;
  memory::desc plain, chosen;
  bool output = false;
  bool reordered = false;
  dnnl::reorder move;

  Operand(int a, const memory::desc& p, const memory::desc& c, bool out)
      : arg(a), plain(p), chosen(c), output(out), reordered(c != p) {
    if (!reordered) return;
    dnnl::memory pm(plain, dnnl_rt::engine(), DNNL_MEMORY_NONE), cm(chosen, dnnl_rt::engine(), DNNL_MEMORY_NONE);
    move = out ? dnnl::reorder(cm, pm) : dnnl::reorder(pm, cm);
  }
};

// Buffer `slot` (one per operand of a primitive) of at least `bytes`, kept per thread and shared by every
// primitive: a call uses its operands' buffers only while it runs.
void* slot_buffer(size_t slot, size_t bytes) {
  thread_local std::vector<float> slots[3];
  std::vector<float>& b = slots[slot];
  if (b.size() * sizeof(float) < bytes) b.resize((bytes + sizeof(float) - 1) / sizeof(float));
  return b.data();
}

struct Prims {
  dnnl::primitive prim;
  std::vector<Operand> ops;
};

// oneDNN counts dilation from 0 (no dilation) and takes the far-side padding separately; its output size
// rule, (h + pad_l + pad_r - dilated kernel) / stride + 1, is ours with pad_r = pad_l.
struct Window {
  memory::dims strides, dil, pad;
  explicit Window(const Conv2dGeom& g) : strides{g.sh, g.sw}, dil{g.dh - 1, g.dw - 1}, pad{g.ph, g.pw} {}
};

dnnl::convolution_forward::primitive_desc fwd_pd(const Conv2dGeom& g) {
  Window k(g);
  dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct,
                                    md(x_dims(g), act_tag(g)), md(w_dims(g), tag::any), md(y_dims(g), act_tag(g)),
                                    k.strides, k.dil, k.pad, k.pad);
  return dnnl::convolution_forward::primitive_desc(d, dnnl_rt::engine());
}

Prims build(const Conv2dGeom& g, Pass p) {
  Prims made;
  auto fpd = fwd_pd(g);
  Window k(g);
  memory::desc x = md(x_dims(g), plain_tag(g)), w = md(w_dims(g), w_tag(g)), y = md(y_dims(g), plain_tag(g));
  if (p == Pass::fwd) {
    made.prim = dnnl::convolution_forward(fpd);
    made.ops = {{DNNL_ARG_SRC, x, fpd.src_desc(), false},
                {DNNL_ARG_WEIGHTS, w, fpd.weights_desc(), false},
                {DNNL_ARG_DST, y, fpd.dst_desc(), true}};
  } else if (p == Pass::bwd_data) {
    dnnl::convolution_backward_data::desc d(dnnl::algorithm::convolution_direct, md(x_dims(g), act_tag(g)),
                                            md(w_dims(g), tag::any), md(y_dims(g), act_tag(g)), k.strides, k.dil, k.pad,
                                            k.pad);
    dnnl::convolution_backward_data::primitive_desc pd(d, dnnl_rt::engine(), fpd);
    made.prim = dnnl::convolution_backward_data(pd);
    made.ops = {{DNNL_ARG_DIFF_DST, y, pd.diff_dst_desc(), false},
                {DNNL_ARG_WEIGHTS, w, pd.weights_desc(), false},
                {DNNL_ARG_DIFF_SRC, x, pd.diff_src_desc(), true}};
  } else {
    dnnl::convolution_backward_weights::desc d(dnnl::algorithm::convolution_direct, md(x_dims(g), act_tag(g)),
                                               md(w_dims(g), tag::any), md(y_dims(g), act_tag(g)), k.strides, k.dil,
                                               k.pad, k.pad);
    dnnl::convolution_backward_weights::primitive_desc pd(d, dnnl_rt::engine(), fpd);
    made.prim = dnnl::convolution_backward_weights(pd);
    made.ops = {{DNNL_ARG_SRC, x, pd.src_desc(), false},
                {DNNL_ARG_DIFF_DST, y, pd.diff_dst_desc(), false},
                {DNNL_ARG_DIFF_WEIGHTS, w, pd.diff_weights_desc(), true}};
  }
  return made;
}

std::string describe(const Conv2dGeom& g) {
  return std::string(layout_name(g.layout)) + " input [" + std::to_string(g.n) + ", " + std::to_string(g.c) + ", " +
         std::to_string(g.h) + ", " + std::to_string(g.w) + "], " + std::to_string(g.o) + " filters " +
         std::to_string(g.kh) + "x" + std::to_string(g.kw);
}

const Prims& prims(const Conv2dGeom& g, Pass p) {
  using Key = std::array<int64_t, 16>;
  thread_local std::map<Key, Prims> cache;
  Key key{g.n,  g.c,  g.h,  g.w,      g.o,        g.kh,           g.kw, g.sh,
          g.sw, g.ph, g.pw, g.dh, g.dw, g.groups, int64_t(p), int64_t(g.layout)};
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  // Primitives size their per-thread buffers for the OpenMP thread count at creation, so it must be the one
  // they will run with: stream() sets it for this thread.
  dnnl_rt::stream();
  Prims made;
  SP_DNNL("conv2d (oneDNN): building the primitive for " + describe(g), made = build(g, p));
  return cache.emplace(key, std::move(made)).first->second;
}

// Runs the primitive on plain buffers ptr[i] (in the order of Prims::ops): inputs reordered in, the
// primitive, outputs reordered out. Operand `ready` (if any) is already in the primitive's layout at its
// pointer: filters reordered once for all chunks, or a filter gradient the caller reorders itself.
void run(const Prims& p, const std::array<void*, 3>& ptr, const char* what, int ready = -1) {
  dnnl::stream& s = dnnl_rt::stream();
  SP_DNNL(what, {
    std::unordered_map<int, dnnl::memory> args;
    for (size_t i = 0; i < p.ops.size(); ++i) {
      const Operand& o = p.ops[i];
      if (int(i) == ready) {
        args[o.arg] = dnnl::memory(o.chosen, dnnl_rt::engine(), ptr[i]);
        continue;
      }
      dnnl::memory user(o.plain, dnnl_rt::engine(), ptr[i]);
      if (!o.reordered) {
        args[o.arg] = user;
        continue;
      }
      dnnl::memory mine(o.chosen, dnnl_rt::engine(), slot_buffer(i, o.chosen.get_size()));
      if (!o.output) o.move.execute(s, user, mine);
      args[o.arg] = mine;
    }
    p.prim.execute(s, args);
    for (size_t i = 0; i < p.ops.size(); ++i) {
      const Operand& o = p.ops[i];
      if (!o.output || !o.reordered || int(i) == ready) continue;
      dnnl::memory mine = args[o.arg], user(o.plain, dnnl_rt::engine(), ptr[i]);
      o.move.execute(s, mine, user);
    }
    s.wait();
  });
}

// out = fresh + beta * out, for the backward passes (oneDNN's backward primitives overwrite).
void blend(float* out, const float* fresh, int64_t n, float beta) {
  for (int64_t i = 0; i < n; ++i) out[i] = fresh[i] + beta * out[i];
}

float* scratch(int64_t n) {
  thread_local std::vector<float> buf;
  if (int64_t(buf.size()) < n) buf.resize(size_t(n));
  return buf.data();
}

// Images per chunk for a batch of n: about eight chunks (enough to keep a few threads busy), each of 8 to 64
// images (small chunks run oneDNN's kernels poorly: width-64 ResNet-18 at batch 32 trained 15% slower on one
// thread in chunks of 4 than of 16; large ones need large reorder buffers).
int64_t chunk_images(int64_t n) { return std::min(n, std::clamp<int64_t>((n + 7) / 8, 8, 64)); }

// f(chunk index, first image, images) over the chunks of g's batch, in parallel.
template <class F>
void for_each_chunk(const Conv2dGeom& g, F&& f) {
  const int64_t per = chunk_images(g.n), chunks = (g.n + per - 1) / per;
  parallel_for(chunks, [&](int64_t c) {
    const int64_t n0 = c * per;
    f(c, n0, std::min(per, g.n - n0));
  });
}

Conv2dGeom with_batch(const Conv2dGeom& g, int64_t b) {
  Conv2dGeom r = g;
  r.n = b;
  return r;
}

// The filters in the layout the chunks' primitives take, reordered once for all chunks (a width-64 ResNet
// spent an eighth of its step reordering the same filters once per chunk). Unused when the chunks take the
// plain layout or do not all agree on one.
struct SharedFilters {
  std::vector<float> buf;
  memory::desc layout;
  // Operand `op` of the primitives for `pass`; w: the plain filters to reorder (null for an output).
  SharedFilters(const Conv2dGeom& g, Pass pass, size_t op, const float* w) {
    const int64_t per = chunk_images(g.n), last = g.n - (g.n - 1) / per * per;
    const Operand& full = prims(with_batch(g, per), pass).ops[op];
    if (!full.reordered || prims(with_batch(g, last), pass).ops[op].chosen != full.chosen) return;
    layout = full.chosen;
    buf.resize(layout.get_size() / sizeof(float));
    if (!w) return;
    dnnl::stream& s = dnnl_rt::stream();
    SP_DNNL("conv2d (oneDNN): reordering the filters", {
      dnnl::memory from(full.plain, dnnl_rt::engine(), const_cast<float*>(w));
      dnnl::memory to(layout, dnnl_rt::engine(), buf.data());
      full.move.execute(s, from, to);
      s.wait();
    });
  }
  bool used() const { return !buf.empty(); }
};

}  // namespace

void dnnl_conv_fwd(const float* x, const float* w, float* y, const Conv2dGeom& g) {
  const int64_t xs = g.c * g.h * g.w, ys = g.o * g.oh * g.ow;
  SharedFilters f(g, Pass::fwd, 1, w);
  float* wp = f.used() ? f.buf.data() : const_cast<float*>(w);
  for_each_chunk(g, [&](int64_t, int64_t n0, int64_t b) {
    run(prims(with_batch(g, b), Pass::fwd), {const_cast<float*>(x + n0 * xs), wp, y + n0 * ys},
        "conv2d (oneDNN) forward", f.used() ? 1 : -1);
  });
}

void dnnl_conv_bwd_data(const float* gy, const float* w, float* dx, const Conv2dGeom& g, float beta) {
  const int64_t xs = g.c * g.h * g.w, ys = g.o * g.oh * g.ow;
  SharedFilters f(g, Pass::bwd_data, 1, w);
  float* wp = f.used() ? f.buf.data() : const_cast<float*>(w);
  for_each_chunk(g, [&](int64_t, int64_t n0, int64_t b) {
    float* out = beta == 0.f ? dx + n0 * xs : scratch(b * xs);
    run(prims(with_batch(g, b), Pass::bwd_data), {const_cast<float*>(gy + n0 * ys), wp, out},
        "conv2d (oneDNN) backward data", f.used() ? 1 : -1);
    if (beta != 0.f) blend(dx + n0 * xs, out, b * xs, beta);
  });
}

void dnnl_conv_bwd_filter(const float* gy, const float* x, float* dw, const Conv2dGeom& g, float beta) {
  const int64_t xs = g.c * g.h * g.w, ys = g.o * g.oh * g.ow, wn = g.o * (g.c / g.groups) * g.kh * g.kw;
  const int64_t per = chunk_images(g.n), chunks = (g.n + per - 1) / per;
  // One partial gradient per chunk, summed below in chunk order: in the primitives' own filter layout when
  // they all use the same one (then reordered once), else in the plain layout.
  SharedFilters f(g, Pass::bwd_filter, 2, nullptr);
  const int64_t pn = f.used() ? int64_t(f.buf.size()) : wn;
  std::vector<float> part(size_t(chunks * pn));
  for_each_chunk(g, [&](int64_t c, int64_t n0, int64_t b) {
    run(prims(with_batch(g, b), Pass::bwd_filter),
        {const_cast<float*>(x + n0 * xs), const_cast<float*>(gy + n0 * ys), part.data() + c * pn},
        "conv2d (oneDNN) backward filter", f.used() ? 2 : -1);
  });
  float* sum = f.used() ? f.buf.data() : (beta == 0.f ? dw : scratch(wn));
  parallel_ranges(pn, 4096, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      float v = part[size_t(i)];
      for (int64_t c = 1; c < chunks; ++c) v += part[size_t(c * pn + i)];
      sum[i] = v;
    }
  });
  if (f.used()) {
    float* out = beta == 0.f ? dw : scratch(wn);
    const Operand& o = prims(with_batch(g, per), Pass::bwd_filter).ops[2];
    dnnl::stream& s = dnnl_rt::stream();
    SP_DNNL("conv2d (oneDNN): reordering the filter gradient", {
      dnnl::memory from(f.layout, dnnl_rt::engine(), sum);
      dnnl::memory to(o.plain, dnnl_rt::engine(), out);
      o.move.execute(s, from, to);
      s.wait();
    });
    sum = out;
  }
  if (sum != dw) blend(dw, sum, wn, beta);
}

}  // namespace sp::cpu
