// DSA (nn/dsa.h): the strategy parser and its errors; each group's output against direct f64 formulas; the
// Siamese rule (one draw applied to two batches transforms equal images equally, all samples share sample
// 0's parameters) versus per-sample draws; determinism in (seed, counter); the parameter ranges of every
// group over many draws; uniform group choice; first- and second-order gradients of every group in f64;
// mismatched shapes named in errors.
#include <algorithm>
#include <cmath>
#include <map>
#include <numbers>

#include "nn/dsa.h"
#include "tests/test_util.h"

using namespace sp;
using namespace sp::test;
using dsa::Group;

namespace {

const Group kAll[] = {Group::color, Group::crop, Group::cutout, Group::flip, Group::scale, Group::rotate};

// A draw of one forced group (a one-token strategy).
dsa::AugDraw draw_group(Group g, int64_t n, int64_t h, int64_t w, uint64_t seed, uint64_t counter, bool siamese) {
  return dsa::draw({g}, dsa::DsaParams{}, n, h, w, seed, counter, siamese);
}

Tensor run(const Tensor& x, const dsa::AugDraw& d) {
  Tape t(Stream::cpu());
  return t.value(dsa::apply(t, t.leaf(x), d));
}

// Sample b of an [N, C, H, W] tensor as doubles.
std::vector<double> sample(const Tensor& x, int64_t b) {
  auto v = as_doubles(x);
  const int64_t per = x.numel() / x.size(0);
  return {v.begin() + b * per, v.begin() + (b + 1) * per};
}

// Bilinear sample with zero padding, align_corners = true, at pixel coordinates (px, py).
double bilinear(const std::vector<double>& plane, int64_t h, int64_t w, double px, double py) {
  double acc = 0;
  for (int64_t y = int64_t(std::floor(py)); y <= int64_t(std::floor(py)) + 1; ++y)
    for (int64_t x = int64_t(std::floor(px)); x <= int64_t(std::floor(px)) + 1; ++x)
      if (y >= 0 && y < h && x >= 0 && x < w)
        acc += (1 - std::abs(px - double(x))) * (1 - std::abs(py - double(y))) * plane[size_t(y * w + x)];
  return acc;
}

// The augmentation of x by d, computed directly from the DSA definitions.
std::vector<double> naive_apply(const Tensor& x, const dsa::AugDraw& d) {
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  auto v = as_doubles(x);
  std::vector<double> out(v.size(), 0.0);
  auto at = [&](const std::vector<double>& a, int64_t b, int64_t c, int64_t i, int64_t j) -> double {
    return a[size_t(((b * C + c) * H + i) * W + j)];
  };
  for (int64_t b = 0; b < N; ++b) {
    const size_t bs = size_t(b);
    if (d.group == Group::color) {
      std::vector<double> y(size_t(C * H * W));
      for (int64_t k = 0; k < C * H * W; ++k) y[size_t(k)] = v[size_t(b * C * H * W + k)] + d.brightness[bs];
      for (int64_t p = 0; p < H * W; ++p) {
        double m = 0;
        for (int64_t c = 0; c < C; ++c) m += y[size_t(c * H * W + p)] / double(C);
        for (int64_t c = 0; c < C; ++c)
          y[size_t(c * H * W + p)] = (y[size_t(c * H * W + p)] - m) * d.saturation[bs] + m;
      }
      double m = 0;
      for (double e : y) m += e / double(C * H * W);
      for (int64_t k = 0; k < C * H * W; ++k) out[size_t(b * C * H * W + k)] = (y[size_t(k)] - m) * d.contrast[bs] + m;
      continue;
    }
    for (int64_t c = 0; c < C; ++c) {
      std::vector<double> plane(size_t(H * W));
      for (int64_t i = 0; i < H; ++i)
        for (int64_t j = 0; j < W; ++j) plane[size_t(i * W + j)] = at(v, b, c, i, j);
      for (int64_t i = 0; i < H; ++i)
        for (int64_t j = 0; j < W; ++j) {
          double r = 0;
          switch (d.group) {
            case Group::crop: {
              int64_t si = i + d.shift_y[bs], sj = j + d.shift_x[bs];
              r = (si >= 0 && si < H && sj >= 0 && sj < W) ? plane[size_t(si * W + sj)] : 0.0;
              break;
            }
            case Group::flip:
              r = plane[size_t(i * W + (d.flip[bs] ? W - 1 - j : j))];
              break;
            case Group::cutout: {
              bool in_y = i >= d.cut_y[bs] - d.cut_h / 2 && i < d.cut_y[bs] - d.cut_h / 2 + d.cut_h;
              bool in_x = j >= d.cut_x[bs] - d.cut_w / 2 && j < d.cut_x[bs] - d.cut_w / 2 + d.cut_w;
              r = in_y && in_x ? 0.0 : plane[size_t(i * W + j)];
              break;
            }
            default: {  // scale / rotate: theta applied to align_corners=True base coordinates
              double a00, a01, a10, a11;
              if (d.group == Group::scale) {
                a00 = d.scale_x[bs], a01 = 0, a10 = 0, a11 = d.scale_y[bs];
              } else {
                double a = d.angle[bs];
                a00 = std::cos(a), a01 = -std::sin(a), a10 = std::sin(a), a11 = std::cos(a);
              }
              double bx = -1 + 2.0 * double(j) / double(W - 1), by = -1 + 2.0 * double(i) / double(H - 1);
              double gx = a00 * bx + a01 * by, gy = a10 * bx + a11 * by;
              r = bilinear(plane, H, W, (gx + 1) / 2 * double(W - 1), (gy + 1) / 2 * double(H - 1));
            }
          }
          out[size_t(((b * C + c) * H + i) * W + j)] = r;
        }
    }
  }
  return out;
}

}  // namespace

TEST(Dsa, ParsesStrategies) {
  auto all = dsa::parse_strategy("color_crop_cutout_flip_scale_rotate");
  EXPECT_EQ(all, std::vector<Group>(std::begin(kAll), std::end(kAll)));
  EXPECT_EQ(dsa::parse_strategy("flip"), std::vector<Group>{Group::flip});
  EXPECT_TRUE(dsa::parse_strategy("none").empty());
  EXPECT_TRUE(dsa::parse_strategy("None").empty());
  EXPECT_TRUE(dsa::parse_strategy("").empty());
  EXPECT_EQ(dsa::parse_strategy("scale_scale").size(), 2u);  // repeats weigh the choice, as upstream
}

TEST(Dsa, RejectsUnknownTokens) {
  expect_error_mentioning([] { dsa::parse_strategy("color_blur_flip"); }, "unknown augmentation 'blur'");
  expect_error_mentioning([] { dsa::parse_strategy("color__flip"); }, "unknown augmentation ''");
  expect_error_mentioning([] { dsa::parse_strategy("Color"); }, "unknown augmentation 'Color'");
  expect_error_mentioning([] { dsa::parse_strategy("crop_"); }, "DSA strategy 'crop_'");
}

TEST(Dsa, EachGroupMatchesItsDefinition) {
  for (Group g : kAll)
    for (uint64_t counter : {0u, 1u, 2u}) {
      Tensor x = randn({4, 3, 9, 8}, DType::f64, 20 + counter);
      dsa::AugDraw d = draw_group(g, 4, 9, 8, 7, counter, false);
      ASSERT_EQ(d.group, g);
      Tensor y = run(x, d);
      ASSERT_EQ(y.shape(), x.shape());
      auto got = as_doubles(y), want = naive_apply(x, d);
      for (size_t i = 0; i < got.size(); ++i)
        ASSERT_NEAR(got[i], want[i], 1e-12) << dsa::group_name(g) << " counter " << counter << " [" << i << "]";
    }
}

TEST(Dsa, IdentityStrategyReturnsTheInput) {
  Tensor x = randn({2, 3, 4, 4}, DType::f64, 1);
  dsa::AugDraw d = dsa::draw(dsa::parse_strategy("none"), {}, 2, 4, 4, 1, 1, false);
  EXPECT_TRUE(d.identity);
  EXPECT_TRUE(all_close(run(x, d), x, 0, 0));
}

TEST(Dsa, SiameseDrawTransformsBothBatchesAlike) {
  // Real batch A and synthetic batch B hold the same images in another order; one Siamese draw applied to
  // both must give the same output for the same image, and all samples share sample 0's parameters.
  Tensor a = randn({3, 3, 8, 8}, DType::f64, 30);
  auto av = as_doubles(a);
  const size_t per = size_t(3 * 8 * 8);
  std::vector<double> bv;
  for (int64_t k : {2, 0, 1}) bv.insert(bv.end(), av.begin() + int64_t(per) * k, av.begin() + int64_t(per) * (k + 1));
  Tensor b = Tensor::from_vector(bv, a.shape());
  for (Group g : kAll)
    for (uint64_t counter = 0; counter < 4; ++counter) {
      dsa::AugDraw d = draw_group(g, 3, 8, 8, 11, counter, true);
      for (auto* v : {&d.brightness, &d.saturation, &d.contrast, &d.scale_x, &d.scale_y, &d.angle})
        for (double e : *v) EXPECT_EQ(e, v->front()) << dsa::group_name(g);
      for (auto* v : {&d.shift_y, &d.shift_x, &d.cut_y, &d.cut_x, &d.flip})
        for (int32_t e : *v) EXPECT_EQ(e, v->front()) << dsa::group_name(g);
      // Sample 0's Siamese parameters equal sample 0's per-sample parameters.
      dsa::AugDraw p = draw_group(g, 3, 8, 8, 11, counter, false);
      EXPECT_EQ(sample(run(a, d), 0), sample(run(a, p), 0)) << dsa::group_name(g);
      Tensor ya = run(a, d), yb = run(b, d);
      EXPECT_EQ(sample(yb, 0), sample(ya, 2)) << dsa::group_name(g);
      EXPECT_EQ(sample(yb, 1), sample(ya, 0)) << dsa::group_name(g);
      EXPECT_EQ(sample(yb, 2), sample(ya, 1)) << dsa::group_name(g);
    }
}

TEST(Dsa, PerSampleDrawsDifferAcrossSamples) {
  // With 16 samples, continuous parameters are all distinct and integer ones take several values.
  auto distinct = [](auto v) {
    std::sort(v.begin(), v.end());
    return size_t(std::unique(v.begin(), v.end()) - v.begin());
  };
  EXPECT_EQ(distinct(draw_group(Group::color, 16, 32, 32, 1, 0, false).brightness), 16u);
  EXPECT_EQ(distinct(draw_group(Group::scale, 16, 32, 32, 1, 0, false).scale_y), 16u);
  EXPECT_EQ(distinct(draw_group(Group::rotate, 16, 32, 32, 1, 0, false).angle), 16u);
  EXPECT_GE(distinct(draw_group(Group::crop, 16, 32, 32, 1, 0, false).shift_x), 4u);
  EXPECT_GE(distinct(draw_group(Group::cutout, 16, 32, 32, 1, 0, false).cut_y), 4u);
  EXPECT_EQ(distinct(draw_group(Group::flip, 16, 32, 32, 1, 0, false).flip), 2u);
}

TEST(Dsa, DeterministicInSeedAndCounter) {
  auto strategy = dsa::parse_strategy("color_crop_cutout_flip_scale_rotate");
  Tensor x = randn({5, 3, 8, 8}, DType::f64, 40);
  for (uint64_t counter = 0; counter < 12; ++counter) {
    dsa::AugDraw d1 = dsa::draw(strategy, {}, 5, 8, 8, 123, counter, false);
    dsa::AugDraw d2 = dsa::draw(strategy, {}, 5, 8, 8, 123, counter, false);
    EXPECT_TRUE(all_close(run(x, d1), run(x, d2), 0, 0)) << counter;
  }
  // Another seed (or counter) changes the output for the same group.
  for (Group g : kAll) {
    Tensor y1 = run(x, draw_group(g, 5, 8, 8, 123, 0, false));
    Tensor y2 = run(x, draw_group(g, 5, 8, 8, 124, 0, false));
    Tensor y3 = run(x, draw_group(g, 5, 8, 8, 123, 1, false));
    EXPECT_FALSE(all_close(y1, y2, 0, 0)) << dsa::group_name(g);
    EXPECT_FALSE(all_close(y1, y3, 0, 0)) << dsa::group_name(g);
  }
}

TEST(Dsa, GroupChoiceIsUniformOverTheStrategy) {
  auto strategy = dsa::parse_strategy("color_crop_cutout_flip_scale_rotate");
  std::map<Group, int> count;
  const int calls = 6000;
  for (int c = 0; c < calls; ++c) ++count[dsa::draw(strategy, {}, 1, 32, 32, 5, uint64_t(c), true).group];
  ASSERT_EQ(count.size(), 6u);
  for (auto [g, k] : count) EXPECT_NEAR(double(k) / calls, 1.0 / 6, 0.025) << dsa::group_name(g);
}

TEST(Dsa, ParameterRangesOverManyDraws) {
  const double pi = std::numbers::pi;
  std::vector<double> bri, sat, con, sx, sy, ang;
  std::vector<int32_t> ty, tx, cy, cx;
  int flips = 0, total = 0;
  for (uint64_t c = 0; c < 60; ++c) {
    auto add = [](auto& to, const auto& from) { to.insert(to.end(), from.begin(), from.end()); };
    dsa::AugDraw col = draw_group(Group::color, 100, 32, 32, 9, c, false);
    add(bri, col.brightness), add(sat, col.saturation), add(con, col.contrast);
    dsa::AugDraw sc = draw_group(Group::scale, 100, 32, 32, 9, c, false);
    add(sx, sc.scale_x), add(sy, sc.scale_y);
    add(ang, draw_group(Group::rotate, 100, 32, 32, 9, c, false).angle);
    dsa::AugDraw cr = draw_group(Group::crop, 100, 32, 32, 9, c, false);
    add(ty, cr.shift_y), add(tx, cr.shift_x);
    dsa::AugDraw cu = draw_group(Group::cutout, 100, 32, 32, 9, c, false);
    EXPECT_EQ(cu.cut_h, 16);
    EXPECT_EQ(cu.cut_w, 16);
    add(cy, cu.cut_y), add(cx, cu.cut_x);
    for (int32_t f : draw_group(Group::flip, 100, 32, 32, 9, c, false).flip) flips += f, ++total;
  }
  // Continuous: inside [lo, hi) and reaching within 1% of each end.
  auto range = [](const std::vector<double>& v, double lo, double hi, const char* what) {
    auto [mn, mx] = std::minmax_element(v.begin(), v.end());
    EXPECT_GE(*mn, lo) << what;
    EXPECT_LT(*mx, hi) << what;
    EXPECT_LT(*mn, lo + 0.01 * (hi - lo)) << what;
    EXPECT_GT(*mx, hi - 0.01 * (hi - lo)) << what;
  };
  range(bri, -0.5, 0.5, "brightness");
  range(sat, 0.0, 2.0, "saturation");
  range(con, 0.5, 1.5, "contrast");
  range(sx, 1 / 1.2, 1.2, "scale x");
  range(sy, 1 / 1.2, 1.2, "scale y");
  range(ang, -15 * pi / 180, 15 * pi / 180, "rotation");
  // Integer: exactly the values -4..4 (crop, int(32 * 0.125 + 0.5) = 4) and 0..32 (cutout centre).
  auto values = [](std::vector<int32_t> v) {
    std::sort(v.begin(), v.end());
    v.erase(std::unique(v.begin(), v.end()), v.end());
    return v;
  };
  std::vector<int32_t> shifts, centres;
  for (int k = -4; k <= 4; ++k) shifts.push_back(k);
  for (int k = 0; k <= 32; ++k) centres.push_back(k);
  EXPECT_EQ(values(ty), shifts);
  EXPECT_EQ(values(tx), shifts);
  EXPECT_EQ(values(cy), centres);
  EXPECT_EQ(values(cx), centres);
  EXPECT_NEAR(double(flips) / total, 0.5, 0.03);
  // The sizes scale with the image: 16 x 12 images shift by 2 and 2 (int(1.5 + 0.5) = 2) and cut 8 x 6.
  dsa::AugDraw small = draw_group(Group::cutout, 1, 16, 12, 1, 0, false);
  EXPECT_EQ(small.cut_h, 8);
  EXPECT_EQ(small.cut_w, 6);
  std::vector<int32_t> sh;
  for (uint64_t c = 0; c < 40; ++c) {
    auto cr = draw_group(Group::crop, 50, 16, 12, 1, c, false);
    sh.insert(sh.end(), cr.shift_y.begin(), cr.shift_y.end());
    sh.insert(sh.end(), cr.shift_x.begin(), cr.shift_x.end());
  }
  EXPECT_EQ(values(sh), (std::vector<int32_t>{-2, -1, 0, 1, 2}));
  // An odd cutout side (a 14-pixel image cuts 7) draws centres 0..13 only.
  std::vector<int32_t> odd;
  for (uint64_t c = 0; c < 40; ++c) {
    auto cu = draw_group(Group::cutout, 50, 14, 14, 1, c, false);
    EXPECT_EQ(cu.cut_h, 7);
    odd.insert(odd.end(), cu.cut_y.begin(), cu.cut_y.end());
  }
  EXPECT_EQ(values(odd).back(), 13);
}

TEST(Dsa, EveryGroupIsDifferentiableToSecondOrder) {
  for (Group g : kAll) {
    dsa::AugDraw d = draw_group(g, 2, 6, 5, 3, 1, false);
    Tensor x = randn({2, 3, 6, 5}, DType::f64, 50);
    auto f = [d](Tape& t, const std::vector<Var>& v) { return dsa::apply(t, v[0], d); };
    SCOPED_TRACE(dsa::group_name(g));
    check_gradients({x}, {true}, f);
    // Every group is linear in x; squaring makes the second derivative non-trivial.
    check_second_order({x}, {true}, [f](Tape& t, const std::vector<Var>& v) {
      Var y = f(t, v);
      return ag::mul(t, y, y);
    });
  }
}

TEST(Dsa, WorksInFloat32) {
  for (Group g : kAll) {
    Tensor x = randn({3, 3, 8, 8}, DType::f64, 60);
    dsa::AugDraw d = draw_group(g, 3, 8, 8, 2, 3, false);
    EXPECT_TRUE(all_close(run(x.to(DType::f32), d), run(x, d), 1e-5, 1e-5)) << dsa::group_name(g);
  }
}

TEST(Dsa, MismatchedImagesAreNamed) {
  dsa::AugDraw d = draw_group(Group::rotate, 4, 8, 8, 1, 1, false);
  expect_error_mentioning([&] { run(randn({3, 3, 8, 8}, DType::f64, 1), d); }, "dsa::apply: images [3, 3, 8, 8]");
  expect_error_mentioning([&] { run(randn({4, 3, 8, 9}, DType::f64, 1), d); }, "do not match the draw");
  expect_error_mentioning([&] { dsa::affine_theta(draw_group(Group::flip, 1, 4, 4, 1, 1, false)); }, "group is flip");
  expect_error_mentioning([] { dsa::draw({Group::flip}, {}, 2, 0, 4, 1, 1, false); }, "dsa::draw");
}
