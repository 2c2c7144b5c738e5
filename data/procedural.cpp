// shapes10 generator (see procedural.h). Everything is float arithmetic with +,-,*,/, sqrt and floor only,
// so results are bit-identical wherever IEEE single precision is honoured; clang would otherwise contract
// a*b+c into FMAs.
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif
#include "data/procedural.h"

#include <algorithm>
#include <cmath>
#include <thread>

#include "kernels/counter_rng.h"

namespace sp::data {
namespace {

constexpr int S = 32;
constexpr uint64_t kPurposeShapes = 0x5348415045533130ull;  // "SHAPES10"

// PCG32 (XSH-RR): the fast per-image generator, seeded from the image's Philox stream.
struct Pcg32 {
  uint64_t state = 0, inc;
  Pcg32(uint64_t seed, uint64_t seq) : inc((seq << 1) | 1u) {
    next();
    state += seed;
    next();
  }
  uint32_t next() {
    uint64_t old = state;
    state = old * 6364136223846793005ull + inc;
    uint32_t x = uint32_t(((old >> 18) ^ old) >> 27), rot = uint32_t(old >> 59);
    return (x >> rot) | (x << ((32 - rot) & 31));
  }
  float uf() { return float(next() >> 8) * (1.0f / 16777216.0f); }
  float uniform(float lo, float hi) { return lo + (hi - lo) * uf(); }
  int below(int n) { return int((uint64_t(next()) * uint32_t(n)) >> 32); }
  bool chance(float p) { return uf() < p; }
};

struct C3 {
  float v[3];
};
float clamp01(float x) { return x < 0.0f ? 0.0f : (x > 1.0f ? 1.0f : x); }
C3 clamp01(C3 c) { return C3{{clamp01(c.v[0]), clamp01(c.v[1]), clamp01(c.v[2])}}; }

C3 random_colour(Pcg32& g) { return C3{{g.uf(), g.uf(), g.uf()}}; }

// A uniformly random direction in 2D or 3D by rejection from the unit ball (no trigonometry).
void unit2(Pcg32& g, float& c, float& s) {
  float x, y, r2;
  do {
    x = 2.0f * g.uf() - 1.0f;
    y = 2.0f * g.uf() - 1.0f;
    r2 = x * x + y * y;
  } while (r2 > 1.0f || r2 < 1e-4f);
  float r = std::sqrt(r2);
  c = x / r, s = y / r;
}
C3 unit3(Pcg32& g) {
  float x, y, z, r2;
  do {
    x = 2.0f * g.uf() - 1.0f;
    y = 2.0f * g.uf() - 1.0f;
    z = 2.0f * g.uf() - 1.0f;
    r2 = x * x + y * y + z * z;
  } while (r2 > 1.0f || r2 < 1e-4f);
  float r = std::sqrt(r2);
  return C3{{x / r, y / r, z / r}};
}

struct Canvas {
  float px[3][S][S];
  C3 at(int y, int x) const { return C3{{px[0][y][x], px[1][y][x], px[2][y][x]}}; }
  // Blend colour c over pixel (y, x) with coverage a in [0, 1].
  void blend(int y, int x, const C3& c, float a) {
    for (int k = 0; k < 3; ++k) px[k][y][x] = px[k][y][x] + (c.v[k] - px[k][y][x]) * a;
  }
};

int lo_px(float v) { return std::max(0, int(std::floor(v))); }
int hi_px(float v) { return std::min(S - 1, int(std::floor(v))); }

// Smooth value noise over a (cells+1)^2 lattice plus a linear ramp mixes two nearby random colours, so the
// background varies gently and an object of set contrast stands out from all of it, not only its centre.
void background(Canvas& im, Pcg32& g) {
  C3 c1 = random_colour(g), step = unit3(g), c2;
  float spread = g.uniform(0.05f, 0.3f);
  for (int k = 0; k < 3; ++k) c2.v[k] = c1.v[k] + spread * step.v[k];
  c2 = clamp01(c2);
  int cells = 2 + g.below(3);
  float lat[5][5];
  for (auto& row : lat)
    for (float& v : row) v = g.uf();
  float gx, gy;
  unit2(g, gx, gy);
  float ramp = g.uniform(0.0f, 0.5f), amp = g.uniform(0.3f, 1.0f);
  for (int y = 0; y < S; ++y)
    for (int x = 0; x < S; ++x) {
      float fx = (float(x) + 0.5f) * float(cells) / float(S), fy = (float(y) + 0.5f) * float(cells) / float(S);
      int ix = int(std::floor(fx)), iy = int(std::floor(fy));
      float tx = fx - float(ix), ty = fy - float(iy);
      tx = tx * tx * (3.0f - 2.0f * tx);
      ty = ty * ty * (3.0f - 2.0f * ty);
      float top = lat[iy][ix] + (lat[iy][ix + 1] - lat[iy][ix]) * tx;
      float bot = lat[iy + 1][ix] + (lat[iy + 1][ix + 1] - lat[iy + 1][ix]) * tx;
      float n = top + (bot - top) * ty;
      float f = 0.5f + amp * (n - 0.5f) + ramp * ((float(x) + 0.5f - 16.0f) * gx + (float(y) + 0.5f - 16.0f) * gy) / 32.0f;
      f = clamp01(f);
      for (int k = 0; k < 3; ++k) im.px[k][y][x] = c1.v[k] + (c2.v[k] - c1.v[k]) * f;
    }
}

// Label-independent clutter: an anti-aliased line, dot or small square of random colour.
void distractor(Canvas& im, Pcg32& g) {
  C3 col = random_colour(g);
  float alpha = g.uniform(0.3f, 0.7f);
  int kind = g.below(3);
  if (kind == 0) {
    float x0 = g.uniform(-4.0f, 36.0f), y0 = g.uniform(-4.0f, 36.0f);
    float c, s;
    unit2(g, c, s);
    float len = g.uniform(5.0f, 16.0f), half_w = 0.5f * g.uniform(0.6f, 1.2f);
    float x1 = x0 + c * len, y1 = y0 + s * len;
    for (int y = lo_px(std::min(y0, y1) - 2); y <= hi_px(std::max(y0, y1) + 2); ++y)
      for (int x = lo_px(std::min(x0, x1) - 2); x <= hi_px(std::max(x0, x1) + 2); ++x) {
        float px = float(x) + 0.5f - x0, py = float(y) + 0.5f - y0;
        float t = std::min(len, std::max(0.0f, px * c + py * s));
        float dx = px - t * c, dy = py - t * s;
        float cov = clamp01(half_w + 0.5f - std::sqrt(dx * dx + dy * dy));
        if (cov > 0.0f) im.blend(y, x, col, cov * alpha);
      }
  } else if (kind == 1) {
    float cx = g.uniform(0.0f, 32.0f), cy = g.uniform(0.0f, 32.0f), r = g.uniform(0.8f, 1.8f);
    for (int y = lo_px(cy - r - 1); y <= hi_px(cy + r + 1); ++y)
      for (int x = lo_px(cx - r - 1); x <= hi_px(cx + r + 1); ++x) {
        float dx = float(x) + 0.5f - cx, dy = float(y) + 0.5f - cy;
        float cov = clamp01(r + 0.5f - std::sqrt(dx * dx + dy * dy));
        if (cov > 0.0f) im.blend(y, x, col, cov * alpha);
      }
  } else {
    float x0 = g.uniform(-1.0f, 31.0f), y0 = g.uniform(-1.0f, 31.0f);
    float x1 = x0 + g.uniform(1.5f, 3.0f), y1 = y0 + g.uniform(1.5f, 3.0f);
    for (int y = lo_px(y0); y <= hi_px(y1); ++y)
      for (int x = lo_px(x0); x <= hi_px(x1); ++x) {
        float cx = clamp01(std::min(float(x + 1), x1) - std::max(float(x), x0));
        float cy = clamp01(std::min(float(y + 1), y1) - std::max(float(y), y0));
        if (cx * cy > 0.0f) im.blend(y, x, col, cx * cy * alpha);
      }
  }
}

// Per-image shape parameters; which fields matter depends on the class.
struct ShapeParams {
  int cls;
  float aspect = 1, hole_r = 0, hole_d = 0, inner = 0, arm = 0, arm_len = 1;
  float stripe = 1, phase_u = 0, phase_v = 0, radius_px = 1;
  float tri[3][2] = {};
};

ShapeParams draw_shape(int cls, float radius_px, Pcg32& g) {
  ShapeParams p;
  p.cls = cls;
  p.radius_px = radius_px;
  switch (cls) {
    case 0: p.aspect = g.uniform(1.0f, 1.35f); break;  // disk: round or nearly so
    case 1: p.aspect = g.uniform(1.25f, 2.4f); break;  // ellipse: aspects 1.25-1.35 could be either
    case 2:  // ring: hole near the centre
      p.hole_r = g.uniform(0.45f, 0.68f);
      p.hole_d = g.uniform(0.0f, 0.2f);
      break;
    case 3:  // crescent: large offset hole; the smallest offsets give an off-centre ring
      p.hole_r = g.uniform(0.65f, 0.9f);
      p.hole_d = g.uniform(0.25f, 0.55f);
      break;
    case 4: p.aspect = g.uniform(1.0f, 1.6f); break;  // rectangle
    case 5:  // frame: rectangle with a rectangular hole, which is a thin slit for the thickest borders
      p.aspect = g.uniform(1.0f, 1.4f);
      p.inner = g.uniform(0.2f, 0.45f);
      break;
    case 6: {  // triangle: jittered equilateral, counter-clockwise
      const float base[3][2] = {{0.0f, 1.0f}, {-0.8660254f, -0.5f}, {0.8660254f, -0.5f}};
      for (int k = 0; k < 3; ++k)
        for (int j = 0; j < 2; ++j) p.tri[k][j] = base[k][j] + g.uniform(-0.13f, 0.13f);
      break;
    }
    case 7:  // cross with unequal arms
      p.arm = g.uniform(0.18f, 0.34f);
      p.arm_len = g.uniform(0.7f, 1.0f);
      break;
    case 8:  // striped disk
      p.stripe = g.uniform(1.8f, 3.0f);
      p.phase_u = g.uf();
      break;
    case 9:  // checkered square
      p.stripe = g.uniform(2.0f, 3.2f);
      p.phase_u = g.uf();
      p.phase_v = g.uf();
      break;
  }
  return p;
}

bool odd(float v) { return (int64_t(std::floor(v)) & 1) != 0; }

// 0 outside, 1 primary colour, 2 secondary colour; (u, v) in object units (radius 1).
int region(const ShapeParams& p, float u, float v) {
  switch (p.cls) {
    case 0:
    case 1: return u * u + (v * p.aspect) * (v * p.aspect) <= 1.0f;
    case 2:
    case 3: {
      float du = u - p.hole_d;
      return u * u + v * v <= 1.0f && du * du + v * v > p.hole_r * p.hole_r;
    }
    case 4: return std::fabs(u) <= 0.85f && std::fabs(v) <= 0.85f / p.aspect;
    case 5: {
      float hu = 0.85f, hv = 0.85f / p.aspect;
      if (std::fabs(u) > hu || std::fabs(v) > hv) return 0;
      return !(std::fabs(u) < hu - p.inner && std::fabs(v) < hv - p.inner);
    }
    case 6:
      for (int k = 0; k < 3; ++k) {
        const float* a = p.tri[k];
        const float* b = p.tri[(k + 1) % 3];
        if ((b[0] - a[0]) * (v - a[1]) - (b[1] - a[1]) * (u - a[0]) < 0.0f) return 0;
      }
      return 1;
    case 7:
      return (std::fabs(u) <= p.arm && std::fabs(v) <= 1.0f) || (std::fabs(v) <= p.arm && std::fabs(u) <= p.arm_len);
    case 8:
      if (u * u + v * v > 1.0f) return 0;
      return odd(u * p.radius_px / p.stripe + p.phase_u) ? 2 : 1;
    case 9:
      if (std::fabs(u) > 0.85f || std::fabs(v) > 0.85f) return 0;
      return odd(u * p.radius_px / p.stripe + p.phase_u) != odd(v * p.radius_px / p.stripe + p.phase_v) ? 2 : 1;
  }
  return 0;
}

// base moved by k along +dir or -dir, whichever stays farther from base after clamping to [0,1]^3, so
// the contrast drawn is (nearly) the contrast seen even next to black, white or saturated colours.
C3 push(const C3& base, const C3& dir, float k) {
  C3 a, b;
  for (int j = 0; j < 3; ++j) a.v[j] = base.v[j] + k * dir.v[j], b.v[j] = base.v[j] - k * dir.v[j];
  a = clamp01(a), b = clamp01(b);
  float da = 0, db = 0;
  for (int j = 0; j < 3; ++j) {
    da += (a.v[j] - base.v[j]) * (a.v[j] - base.v[j]);
    db += (b.v[j] - base.v[j]) * (b.v[j] - base.v[j]);
  }
  return da >= db ? a : b;
}

// HSV (h on the unit circle, s and v in [0, 1]) to RGB, with +, -, *, / and floor only.
C3 hsv(float h, float s, float v) {
  h = (h - std::floor(h)) * 6.0f;
  int sector = std::min(5, int(std::floor(h)));
  float f = h - float(sector), p = v * (1.0f - s), q = v * (1.0f - s * f), t = v * (1.0f - s * (1.0f - f));
  switch (sector) {
    case 0: return C3{{v, t, p}};
    case 1: return C3{{q, v, p}};
    case 2: return C3{{p, v, t}};
    case 3: return C3{{p, q, v}};
    case 4: return C3{{t, p, v}};
    default: return C3{{v, p, q}};
  }
}

// Each class has its own hue, 0.1 apart on the hue circle and ordered so that look-alike shapes (disk and
// ellipse, ring and crescent, rectangle and frame, ...) sit far apart; per-image spread makes neighbours
// overlap, so colour is a strong but imperfect cue that the shape must complete.
float class_hue(int cls) {
  static const float hues[10] = {0.0f, 0.5f, 0.1f, 0.6f, 0.2f, 0.7f, 0.3f, 0.8f, 0.4f, 0.9f};
  return hues[cls];
}

void object(Canvas& im, int cls, Pcg32& g) {
  float r = g.uniform(7.5f, 12.0f);
  float cx = 16.0f + g.uniform(-5.0f, 5.0f), cy = 16.0f + g.uniform(-5.0f, 5.0f);
  float rc, rs;
  unit2(g, rc, rs);
  ShapeParams p = draw_shape(cls, r, g);
  C3 under = im.at(std::min(S - 1, std::max(0, int(cy))), std::min(S - 1, std::max(0, int(cx))));
  // Colour: usually the class hue (spread sd 0.05: a sum of three uniforms); in one image in five any colour
  // well off the background, so only shape and texture tell; in one in sixteen the object is faint and
  // barely visible (these cap the reachable accuracy). The second (texture) colour is usually distinct
  // from the first, but nearly matches it in about one textured object in fifteen, making a striped disk
  // or checkered square look like a plain disk or rectangle.
  float kind = g.uf();
  C3 c1;
  if (kind < 0.0625f) {
    c1 = push(under, unit3(g), g.uniform(0.02f, 0.07f));
  } else if (kind < 0.25f) {
    c1 = push(under, unit3(g), g.uniform(0.4f, 0.8f));
  } else {
    float h = class_hue(cls) + 0.1f * (g.uf() + g.uf() + g.uf() - 1.5f);
    c1 = hsv(h, g.uniform(0.55f, 1.0f), g.uniform(0.45f, 1.0f));
  }
  C3 c2 = push(c1, unit3(g), g.uniform(0.05f, 0.7f));
  bool see_through = g.chance(0.3f);  // textured classes: second colour is the background itself
  float sc, ss;
  unit2(g, sc, ss);
  float shade = g.uniform(0.0f, 0.15f);

  float reach = 1.25f * r + 1.0f;
  const float sub[2] = {0.25f, 0.75f};
  for (int y = lo_px(cy - reach); y <= hi_px(cy + reach); ++y)
    for (int x = lo_px(cx - reach); x <= hi_px(cx + reach); ++x) {
      float acc[3] = {0, 0, 0};
      int hits = 0;
      for (float oy : sub)
        for (float ox : sub) {
          float dx = (float(x) + ox - cx) / r, dy = (float(y) + oy - cy) / r;
          float u = rc * dx + rs * dy, v = rc * dy - rs * dx;
          int reg = region(p, u, v);
          if (reg == 0 || (reg == 2 && see_through)) continue;
          const C3& c = reg == 1 ? c1 : c2;
          float lit = 1.0f + shade * (sc * u + ss * v);
          for (int k = 0; k < 3; ++k) acc[k] += c.v[k] * lit;
          ++hits;
        }
      if (hits == 0) continue;
      for (int k = 0; k < 3; ++k) {
        float bg = im.px[k][y][x];
        im.px[k][y][x] = bg * (1.0f - 0.25f * float(hits)) + 0.25f * acc[k];
      }
    }
}

void finish(Canvas& im, Pcg32& g, uint8_t* chw) {
  float gain = g.uniform(0.85f, 1.1f), bias = g.uniform(-0.05f, 0.05f);
  float sigma = g.uniform(0.0f, 0.04f) * 2.4494897f;  // triangular noise u1 + u2 - 1 has variance 1/6
  for (int k = 0; k < 3; ++k)
    for (int y = 0; y < S; ++y)
      for (int x = 0; x < S; ++x) {
        uint32_t w = g.next();
        float n = float(w & 0xffffu) * (1.0f / 65536.0f) + float(w >> 16) * (1.0f / 65536.0f) - 1.0f;
        float v = (im.px[k][y][x] - 0.5f) * gain + 0.5f + bias + sigma * n;
        chw[(k * S + y) * S + x] = uint8_t(clamp01(v) * 255.0f + 0.5f);
      }
}

}  // namespace

const std::vector<std::string>& shapes10_classes() {
  static const std::vector<std::string> names = {"disk",     "ellipse", "ring",  "crescent", "rectangle",
                                                 "frame",    "triangle", "cross", "stripes",  "checker"};
  return names;
}

int64_t render_shapes10(uint64_t seed, uint64_t split_id, int64_t index, uint8_t* chw) {
  crng::Stream32 st(crng::derive_key(seed, kPurposeShapes + split_id), uint64_t(index));
  Pcg32 g(st.next_u64(), st.next_u64());
  int cls = int(index % 10);
  Canvas im;
  background(im, g);
  int clutter = g.below(3);
  int over = 0;
  for (int k = 0; k < clutter; ++k) {
    if (g.chance(0.15f))
      ++over;  // drawn over the object below
    else
      distractor(im, g);
  }
  object(im, cls, g);
  for (int k = 0; k < over; ++k) distractor(im, g);
  finish(im, g, chw);
  return cls;
}

Dataset make_shapes10(int64_t n, uint64_t seed, const std::string& split, int threads) {
  SP_CHECK(n >= 0, "make_shapes10: negative size ", n);
  SP_CHECK(split == "train" || split == "test", "make_shapes10: split must be 'train' or 'test', got '", split, "'");
  uint64_t split_id = split == "train" ? 0 : 1;
  Dataset d = make_dataset("shapes10/" + split, n, 3, S, S, shapes10_classes());
  int t = threads > 0 ? threads : int(std::min(4u, std::max(1u, std::thread::hardware_concurrency())));
  t = int(std::max<int64_t>(1, std::min<int64_t>(t, n / 256 + 1)));
  uint8_t* img = d.images.data<uint8_t>();
  int64_t* lab = d.labels.data<int64_t>();
  auto work = [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) lab[i] = render_shapes10(seed, split_id, i, img + i * 3 * S * S);
  };
  std::vector<std::thread> pool;
  for (int k = 1; k < t; ++k) pool.emplace_back(work, n * k / t, n * (k + 1) / t);
  work(0, n / t);
  for (auto& th : pool) th.join();
  return d;
}

DatasetSplits make_shapes10_splits(int64_t n_train, int64_t n_test, uint64_t seed, int threads) {
  return {make_shapes10(n_train, seed, "train", threads), make_shapes10(n_test, seed, "test", threads)};
}

}  // namespace sp::data
