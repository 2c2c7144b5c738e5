// Nearest generated images and the pair grid (see memorization.h).
#include "paradigms/diffusion/memorization.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "data/sample_grid.h"
#include "kernels/error.h"
#include "kernels/matmul.h"

namespace sp::diffusion {

namespace {

// u8 images -> f32 rows [n, D] on [0, 1], on s's device, and their squared norms (host).
Tensor rows01(Stream& s, const Tensor& u8, std::vector<double>& sq) {
  const int64_t n = u8.size(0), D = u8.numel() / std::max<int64_t>(1, n);
  std::vector<uint8_t> v = u8.to_vector<uint8_t>(s);
  std::vector<float> f(v.size());
  sq.assign(static_cast<size_t>(n), 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < D; ++j) {
      const float x = float(v[size_t(i * D + j)]) / 255.0f;
      f[size_t(i * D + j)] = x;
      sq[size_t(i)] += double(x) * double(x);
    }
  return Tensor::from_vector(f, {n, D}).to(s.device(), s);
}

}  // namespace

Nearest nearest_generated(Stream& s, const Tensor& queries, const Tensor& generated) {
  SP_CHECK(queries.dim() == 4 && generated.dim() == 4 && queries.dtype() == DType::u8 &&
               generated.dtype() == DType::u8 && generated.size(0) >= 1 &&
               queries.shape().numel() / std::max<int64_t>(1, queries.size(0)) ==
                   generated.shape().numel() / generated.size(0),
           "nearest_generated: queries ", queries.str(), " and generated ", generated.str(),
           " must be u8 image stacks of one image shape");
  const int64_t M = queries.size(0), N = generated.size(0), D = generated.numel() / N;
  Nearest out;
  out.index.assign(static_cast<size_t>(M), -1);
  std::vector<double> best(static_cast<size_t>(M), std::numeric_limits<double>::infinity());
  if (M == 0) return out;
  std::vector<double> qsq, gsq;
  Tensor q = rows01(s, queries, qsq);
  constexpr int64_t kChunk = 4096;  // generated images per GEMM
  for (int64_t lo = 0; lo < N; lo += kChunk) {
    const int64_t hi = std::min(N, lo + kChunk), n = hi - lo;
    std::vector<double> part;
    Tensor g = rows01(s, generated.narrow(0, lo, n).contiguous(), part);
    gsq.insert(gsq.end(), part.begin(), part.end());
    Tensor dots = Tensor::empty({M, n}, DType::f32, s);
    gemm(s, dots, q, g, false, true, 1.0, 0.0, "nearest_generated");
    std::vector<float> d = dots.to_vector<float>(s);
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < n; ++j) {
        const double d2 = qsq[size_t(i)] + part[size_t(j)] - 2.0 * double(d[size_t(i * n + j)]);
        if (d2 < best[size_t(i)]) best[size_t(i)] = d2, out.index[size_t(i)] = lo + j;
      }
  }
  // The f32 expansion finds the nearest image; its distance is then recomputed exactly from the bytes (the expansion
  // cancels to ~1e-4 for identical images).
  const std::vector<uint8_t> qv = queries.to_vector<uint8_t>(s);
  out.distance.resize(static_cast<size_t>(M));
  for (int64_t i = 0; i < M; ++i) {
    const std::vector<uint8_t> gv = generated.narrow(0, out.index[size_t(i)], 1).contiguous().to_vector<uint8_t>(s);
    double d2 = 0;
    for (int64_t j = 0; j < D; ++j) {
      const double d = (double(qv[size_t(i * D + j)]) - double(gv[size_t(j)])) / 255.0;
      d2 += d * d;
    }
    out.distance[size_t(i)] = std::sqrt(d2 / double(D));
  }
  return out;
}

void write_pair_grid(const std::string& path, const std::vector<Tensor>& queries, const std::vector<Tensor>& partners,
                     int scale) {
  SP_CHECK(queries.size() == partners.size() && !queries.empty() && scale >= 1, path, ": ", queries.size(),
           " query groups and ", partners.size(), " partner groups");
  const Tensor& first = queries.front();
  SP_CHECK(first.dim() == 4, path, ": images must be [n, C, H, W], got ", first.str());
  const int64_t C = first.size(1), H = first.size(2), W = first.size(3);
  constexpr int64_t kMaxCols = 16, kGap = 1, kGroupGap = 6;
  int64_t cols = 1;
  for (size_t g = 0; g < queries.size(); ++g) {
    SP_CHECK(queries[g].dim() == 4 && partners[g].dim() == 4 && queries[g].size(0) == partners[g].size(0) &&
                 queries[g].size(1) == C && queries[g].size(2) == H && queries[g].size(3) == W &&
                 partners[g].size(1) == C && partners[g].size(2) == H && partners[g].size(3) == W,
             path, ": group ", g, " has ", queries[g].str(), " queries and ", partners[g].str(), " partners");
    cols = std::max(cols, std::min(kMaxCols, queries[g].size(0)));
  }
  const int64_t cell_h = H * scale, cell_w = W * scale, groups = int64_t(queries.size());
  const int64_t out_w = cols * (cell_w + kGap) + kGap;
  const int64_t out_h = groups * (2 * (cell_h + kGap)) + (groups - 1) * kGroupGap + kGap;
  std::vector<uint8_t> img(static_cast<size_t>(3 * out_h * out_w), 128);
  auto paste = [&](const std::vector<uint8_t>& src, int64_t n, int64_t y0, int64_t x0) {
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t y = 0; y < cell_h; ++y)
        for (int64_t x = 0; x < cell_w; ++x) {
          const int64_t sc = C == 1 ? 0 : c;
          img[size_t((c * out_h + y0 + y) * out_w + x0 + x)] = src[size_t(((n * C + sc) * H + y / scale) * W + x / scale)];
        }
  };
  int64_t y0 = kGap;
  for (size_t g = 0; g < queries.size(); ++g) {
    const std::vector<uint8_t> q = queries[g].to_vector<uint8_t>(), p = partners[g].to_vector<uint8_t>();
    const int64_t n = std::min(kMaxCols, queries[g].size(0));
    for (int64_t i = 0; i < n; ++i) {
      paste(q, i, y0, kGap + i * (cell_w + kGap));
      paste(p, i, y0 + cell_h + kGap, kGap + i * (cell_w + kGap));
    }
    y0 += 2 * (cell_h + kGap) + kGroupGap;
  }
  data::write_png(path, img.data(), 3, out_h, out_w);
}

}  // namespace sp::diffusion
