// float32 batch normalisation over [M, C] with C innermost, the CPU fast path (see batchnorm_last.h).
#include "kernels/cpu/batchnorm_last.h"

#include <algorithm>
#include <vector>

#include "kernels/cpu/norm_rows.h"
#include "kernels/cpu/parallel.h"
#include "kernels/norm_math.h"
#include "kernels/stat_math.h"

namespace sp::cpu {
namespace {

// Rows per block: float sums over 64 rows lose nothing that matters, and 64 rows of a narrow layer are
// still a few kilobytes of work per task.
constexpr int64_t kRowsPerBlock = 64;

// Channels per step of the backward's last pass (a stack buffer holds their masked gradient).
constexpr int64_t kChannelChunk = 256;

int64_t blocks_of(int64_t rows) { return (rows + kRowsPerBlock - 1) / kRowsPerBlock; }

// Rows per thread-pool task: whole blocks, about 16k values (a block of a 16-channel layer is 1k values, and
// a task per block spent more in hand-offs than in work at two threads). Tasks only group blocks, so sums do
// not change with it.
int64_t blocks_per_task(int64_t C) { return std::max<int64_t>(1, (int64_t(1) << 14) / (kRowsPerBlock * C)); }

// Per-channel sums of f(row, c) over all rows: each block sums its rows in float (the inner loop over
// channels vectorises), the blocks' sums are added in double in block order. `terms` sums are taken at once
// (f writes into acc[k * C + c]); out gets terms * C doubles.
template <int terms, class F>
void channel_sums(int64_t rows, int64_t C, F&& f, std::vector<double>& out) {
  const int64_t blocks = blocks_of(rows);
  std::vector<float> part(size_t(blocks * terms * C), 0.f);
  parallel_ranges(blocks, blocks_per_task(C), [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      float* acc = part.data() + b * terms * C;
      const int64_t r1 = std::min(rows, (b + 1) * kRowsPerBlock);
      for (int64_t r = b * kRowsPerBlock; r < r1; ++r) f(r, acc);
    }
  });
  out.assign(size_t(terms * C), 0.0);
  for (int64_t b = 0; b < blocks; ++b)
    for (int64_t k = 0; k < terms * C; ++k) out[size_t(k)] += double(part[size_t(b * terms * C + k)]);
}

// f(row) over all rows, in parallel tasks of whole blocks.
template <class F>
void each_row(int64_t rows, int64_t C, F&& f) {
  parallel_ranges(rows, kRowsPerBlock * blocks_per_task(C), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) f(r);
  });
}

// o = a g + b (x - mean) + k (+ beta o) over n channels of a row, with per-channel coefficients.
void input_grad_last(float* o, const float* g, const float* x, const float* mean, const float* a, const float* b,
                     const float* k, int64_t n, float beta) {
  if (beta == 0.f) {
    for (int64_t c = 0; c < n; ++c) o[c] = a[c] * g[c] + b[c] * (x[c] - mean[c]) + k[c];
  } else {
    for (int64_t c = 0; c < n; ++c) o[c] = a[c] * g[c] + b[c] * (x[c] - mean[c]) + k[c] + beta * o[c];
  }
}

}  // namespace

void batch_norm_last_fwd(const NormFwdPtrs& p, const BnEpiloguePtrs& e, int64_t M, int64_t C, bool training,
                         double momentum, double eps) {
  const float *xp = p.x, *w = p.w, *b = p.b;
  float *yp = p.y, *mean = p.mean, *invstd = p.invstd, *rm = p.rm, *rv = p.rv;
  if (training) {
    std::vector<double> s, ss;
    channel_sums<1>(M, C, [&](int64_t r, float* acc) {
      const float* row = xp + r * C;
      for (int64_t c = 0; c < C; ++c) acc[c] += row[c];
    }, s);
    std::vector<float> mf(static_cast<size_t>(C));
    for (int64_t c = 0; c < C; ++c) mf[size_t(c)] = float(s[size_t(c)] / double(M));
    channel_sums<1>(M, C, [&](int64_t r, float* acc) {
      const float* row = xp + r * C;
      for (int64_t c = 0; c < C; ++c) {
        const float v = row[c] - mf[size_t(c)];
        acc[c] += v * v;
      }
    }, ss);
    for (int64_t c = 0; c < C; ++c) {
      const double m = s[size_t(c)] / double(M), var = centred_variance(ss[size_t(c)], double(M), m, mf[size_t(c)]);
      mean[c] = mf[size_t(c)];
      invstd[c] = float(norm_invstd<double>(var, eps));
      if (rm) {
        rm[c] = float(running_update<double>(rm[c], m, momentum));
        rv[c] = float(running_update<double>(rv[c], M > 1 ? var * double(M) / double(M - 1) : var, momentum));
      }
    }
  } else {
    for (int64_t c = 0; c < C; ++c) {
      mean[c] = rm[c];
      invstd[c] = norm_invstd<float>(rv[c], float(eps));
    }
  }
  std::vector<float> scale(static_cast<size_t>(C)), shift(static_cast<size_t>(C));
  for (int64_t c = 0; c < C; ++c) {
    scale[size_t(c)] = invstd[c] * (w ? w[c] : 1.f);
    shift[size_t(c)] = (b ? b[c] : 0.f) - mean[c] * scale[size_t(c)];
  }
  const float* res = e.residual;
  const bool relu = e.relu;
  each_row(M, C, [&](int64_t r) {
    const float* row = xp + r * C;
    float* out = yp + r * C;
    // One loop per epilogue, so each vectorises (the same float operations as batch norm, add, ReLU apart).
    if (!res && !relu) {
      for (int64_t c = 0; c < C; ++c) out[c] = row[c] * scale[size_t(c)] + shift[size_t(c)];
    } else if (!res) {
      for (int64_t c = 0; c < C; ++c) out[c] = norm_epilogue(row[c] * scale[size_t(c)] + shift[size_t(c)], true);
    } else {
      const float* rr = res + r * C;
      if (relu) {
        for (int64_t c = 0; c < C; ++c)
          out[c] = norm_epilogue(row[c] * scale[size_t(c)] + shift[size_t(c)] + rr[c], true);
      } else {
        for (int64_t c = 0; c < C; ++c) out[c] = row[c] * scale[size_t(c)] + shift[size_t(c)] + rr[c];
      }
    }
  });
}

void batch_norm_last_bwd(const NormBwdPtrs& p, const BnEpiloguePtrs& e, int64_t M, int64_t C, bool training,
                         double beta_x, double beta_w, double beta_b) {
  const float *xp = p.x, *gy = p.dy, *mean = p.mean, *invstd = p.invstd, *w = p.w;
  float *gx = p.dx, *gw = p.dw, *gb = p.db;
  const float* yp = e.y;
  float* gr = e.dresidual;
  const bool relu = e.relu;
  // sums[c] = sum of g, sums[C + c] = sum of g * (x - mean), over the channel (g: dy past the epilogue).
  std::vector<double> sums(size_t(2 * C), 0.0);
  if ((training && gx) || gw || gb)
    channel_sums<2>(M, C, [&](int64_t r, float* acc) {
      const float *g = gy + r * C, *row = xp + r * C;
      if (relu) {
        const float* yr = yp + r * C;
        for (int64_t c = 0; c < C; ++c) {
          const float gm = norm_epilogue_grad(g[c], yr[c], true);
          acc[c] += gm;
          acc[C + c] += gm * (row[c] - mean[c]);
        }
      } else {
        for (int64_t c = 0; c < C; ++c) {
          acc[c] += g[c];
          acc[C + c] += g[c] * (row[c] - mean[c]);
        }
      }
    }, sums);
  for (int64_t c = 0; c < C; ++c) {
    if (gw) stat::store_grad(gw[c], float(sums[size_t(C + c)] * double(invstd[c])), float(beta_w));
    if (gb) stat::store_grad(gb[c], float(sums[size_t(c)]), float(beta_b));
  }
  if (!gx && !gr) return;
  // dx = a g + b (x - mean) + k per channel, as batchnorm_fast.cpp.
  const size_t nc = static_cast<size_t>(C);
  std::vector<float> a(nc), bb(nc), k(nc);
  for (int64_t c = 0; c < C; ++c) {
    const double is = invstd[c], wc = w ? w[c] : 1.0;
    a[size_t(c)] = float(is * wc);
    k[size_t(c)] = training ? float(-is * wc * sums[size_t(c)] / double(M)) : 0.f;
    bb[size_t(c)] = training ? float(-is * is * is * wc * sums[size_t(C + c)] / double(M)) : 0.f;
  }
  const float bx = float(beta_x), br = e.beta_r;
  each_row(M, C, [&](int64_t r) {
    const float *g = gy + r * C, *row = xp + r * C;
    float masked[kChannelChunk];  // the row's masked gradient, kChannelChunk channels at a time
    for (int64_t c0 = 0; c0 < C; c0 += kChannelChunk) {
      const int64_t n = std::min<int64_t>(kChannelChunk, C - c0);
      const float* gc = g + c0;
      if (relu) {
        relu_mask_row(masked, gc, yp + r * C + c0, n);
        gc = masked;
      }
      if (gr) store_grad_row(gr + r * C + c0, gc, n, br);
      if (gx)
        input_grad_last(gx + r * C + c0, gc, row + c0, mean + c0, a.data() + c0, bb.data() + c0, k.data() + c0, n,
                        bx);
    }
  });
}

}  // namespace sp::cpu
