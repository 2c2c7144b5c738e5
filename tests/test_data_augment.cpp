// Augmentation on the CPU: the 18 LiRA query views against crops computed by hand (explicit zero-padded
// array, flip, slice), the selections of data/query_views.h (names, counts, the default rule, and each
// selection's output equal to its slice of the 18 views), reflect padding against a naive reflect,
// normalisation values, the random crop/flip parameters (range, uniformity, determinism, independence of
// batch composition), and bad input.
#include "data/augment.h"
#include "tests/data_test_util.h"

using namespace sp;
using namespace sp::data;

namespace {
Tensor random_images(int64_t n, int64_t c, int64_t h, int64_t w, uint64_t seed) {
  crng::Stream32 r(seed, 0);
  Tensor t = Tensor::empty({n, c, h, w}, DType::u8);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<uint8_t>()[i] = uint8_t(r.next_u32());
  return t;
}
Tensor ids_of(std::vector<int64_t> v) { return Tensor::from_vector(v, {int64_t(v.size())}); }

// The view exactly as the protocol words it: flip the image, zero-pad by `pad` (or reflect), slice.
std::vector<double> naive_view(const Tensor& imgs, int64_t i, int oy, int ox, bool flip, int pad, bool reflect,
                               const Normalization& nz) {
  int64_t c = imgs.size(1), h = imgs.size(2), w = imgs.size(3);
  int64_t ph = h + 2 * pad, pw = w + 2 * pad;
  std::vector<double> padded(size_t(c * ph * pw), -1.0);  // -1 marks padding
  for (int64_t k = 0; k < c; ++k)
    for (int64_t y = 0; y < ph; ++y)
      for (int64_t x = 0; x < pw; ++x) {
        int64_t sy = y - pad, sx = x - pad;
        if (reflect) {
          sy = sy < 0 ? -sy : (sy >= h ? 2 * (h - 1) - sy : sy);
          sx = sx < 0 ? -sx : (sx >= w ? 2 * (w - 1) - sx : sx);
        }
        if (sy < 0 || sy >= h || sx < 0 || sx >= w) continue;
        int64_t fx = flip ? w - 1 - sx : sx;
        padded[size_t((k * ph + y) * pw + x)] = imgs.item({i, k, sy, fx});
      }
  std::vector<double> out;
  for (int64_t k = 0; k < c; ++k)
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x) {
        double v = padded[size_t((k * ph + y + oy) * pw + x + ox)];
        out.push_back(((v < 0 ? 0.0 : v) / 255.0 - nz.mean[size_t(k)]) / nz.std[size_t(k)]);
      }
  return out;
}
}  // namespace

TEST(DataAugment, QueryViewTable) {
  std::vector<int32_t> t = query_view_params().to_vector<int32_t>();
  ASSERT_EQ(t.size(), 54u);
  const int32_t want[18][3] = {{4, 4, 0}, {4, 0, 0}, {4, 8, 0}, {0, 4, 0}, {0, 0, 0}, {0, 8, 0},
                               {8, 4, 0}, {8, 0, 0}, {8, 8, 0}, {4, 4, 1}, {4, 0, 1}, {4, 8, 1},
                               {0, 4, 1}, {0, 0, 1}, {0, 8, 1}, {8, 4, 1}, {8, 0, 1}, {8, 8, 1}};
  for (int v = 0; v < 18; ++v)
    for (int k = 0; k < 3; ++k) EXPECT_EQ(t[size_t(v * 3 + k)], want[v][k]) << "view " << v;
}

TEST(DataAugment, QueryViewsMatchHandComputedCrops) {
  Tensor imgs = random_images(3, 3, 32, 32, 5);
  Normalization nz = Normalization::cifar10();
  Tensor ids = ids_of({2, 0});
  Tensor q64 = query_views(Stream::cpu(), imgs, ids, nz, DType::f64);
  Tensor q32 = query_views(Stream::cpu(), imgs, ids, nz, DType::f32);
  ASSERT_EQ(q64.shape(), Shape({2, 18, 3, 32, 32}));
  std::vector<int32_t> t = query_view_params().to_vector<int32_t>();
  for (int64_t n = 0; n < 2; ++n)
    for (int v = 0; v < 18; ++v) {
      std::vector<double> want = naive_view(imgs, ids.to_vector<int64_t>()[size_t(n)], t[size_t(3 * v)],
                                            t[size_t(3 * v + 1)], t[size_t(3 * v + 2)] != 0, 4, false, nz);
      Tensor w = Tensor::from_vector(want, {3, 32, 32});
      EXPECT_TRUE(test::all_close(q64.select(0, n).select(0, v), w, 1e-14, 1e-14)) << "n " << n << " view " << v;
      EXPECT_TRUE(test::all_close(q32.select(0, n).select(0, v), w, 1e-6, 1e-6)) << "n " << n << " view " << v;
    }
  // Spot checks written out by hand (image 2, channel 1, normalised by hand).
  auto norm1 = [&](double px) { return (px / 255.0 - 0.4822) / 0.1994; };
  auto q = [&](int v, int64_t y, int64_t x) { return q64.item({0, v, 1, y, x}); };
  auto px = [&](int64_t y, int64_t x) { return imgs.item({2, 1, y, x}); };
  EXPECT_NEAR(q(0, 7, 11), norm1(px(7, 11)), 1e-12);        // view 0: the clean image
  EXPECT_NEAR(q(1, 5, 2), norm1(0), 1e-12);                 // dx = -4: columns 0..3 are zero padding
  EXPECT_NEAR(q(1, 5, 4), norm1(px(5, 0)), 1e-12);          //          column 4 shows column 0
  EXPECT_NEAR(q(2, 5, 27), norm1(px(5, 31)), 1e-12);        // dx = +4: column 27 shows column 31
  EXPECT_NEAR(q(2, 5, 28), norm1(0), 1e-12);
  EXPECT_NEAR(q(3, 3, 9), norm1(0), 1e-12);                 // dy = -4: rows 0..3 padded
  EXPECT_NEAR(q(6, 0, 9), norm1(px(4, 9)), 1e-12);          // dy = +4: row 0 shows row 4
  EXPECT_NEAR(q(9, 6, 0), norm1(px(6, 31)), 1e-12);         // flipped, no shift
  EXPECT_NEAR(q(10, 6, 4), norm1(px(6, 31)), 1e-12);        // flipped then dx = -4: column 4 shows flipped col 0
  EXPECT_NEAR(q(10, 6, 10), norm1(px(6, 25)), 1e-12);
  EXPECT_NEAR(q(17, 27, 27), norm1(px(31, 0)), 1e-12);      // flipped, dy = dx = +4
  // View 0 is what plain normalisation gives.
  Tensor plain = normalize_batch(Stream::cpu(), imgs, ids, nz, DType::f64);
  EXPECT_TRUE(test::all_close(q64.select(1, 0), plain, 0, 0));
}

TEST(DataAugment, QueryViewSelectionNamesCountsAndDefault) {
  EXPECT_EQ(query_views_names(), (std::vector<std::string>{"all", "flips", "clean"}));
  for (QueryViews v : {QueryViews::all, QueryViews::flips, QueryViews::clean}) {
    EXPECT_EQ(query_views_from_name(query_views_name(v)), v);
    EXPECT_FALSE(query_views_description(v).empty());
  }
  EXPECT_FALSE(query_views_from_name("flip").has_value());
  EXPECT_FALSE(query_views_from_name("").has_value());
  EXPECT_EQ(num_query_views(QueryViews::all), 18);
  EXPECT_EQ(num_query_views(QueryViews::flips), 2);
  EXPECT_EQ(num_query_views(QueryViews::clean), 1);
  // What the model trained on: any crop padding means shifted crops, flipping alone means flips.
  EXPECT_EQ(default_query_views(4, true), QueryViews::all);
  EXPECT_EQ(default_query_views(4, false), QueryViews::all);
  EXPECT_EQ(default_query_views(1, false), QueryViews::all);
  EXPECT_EQ(default_query_views(0, true), QueryViews::flips);
  EXPECT_EQ(default_query_views(0, false), QueryViews::clean);
}

TEST(DataAugment, QueryViewSelectionsAreSlicesOfTheEighteen) {
  std::vector<int64_t> all(18);
  for (int64_t v = 0; v < 18; ++v) all[size_t(v)] = v;
  EXPECT_EQ(query_view_indices(QueryViews::all), all);
  EXPECT_EQ(query_view_indices(QueryViews::flips), (std::vector<int64_t>{0, 9}));
  EXPECT_EQ(query_view_indices(QueryViews::clean), (std::vector<int64_t>{0}));
  EXPECT_EQ(query_view_params(QueryViews::flips).to_vector<int32_t>(), (std::vector<int32_t>{4, 4, 0, 4, 4, 1}));
  EXPECT_EQ(query_view_params(QueryViews::clean).shape(), Shape({1, 1, 3}));
  EXPECT_EQ(query_view_params(QueryViews::clean).to_vector<int32_t>(), (std::vector<int32_t>{4, 4, 0}));
  EXPECT_EQ(query_view_params(QueryViews::all).to_vector<int32_t>(), query_view_params().to_vector<int32_t>());

  // The same pixels as the matching views of the full query, bit for bit, at both precisions and for an
  // image that is not square (so a transposed crop would show).
  Tensor imgs = random_images(4, 3, 12, 10, 21);
  Tensor ids = ids_of({3, 1, 3});
  Normalization nz = Normalization::cifar10();
  for (DType dt : {DType::f32, DType::f64}) {
    Tensor full = query_views(Stream::cpu(), imgs, ids, nz, dt);
    ASSERT_EQ(full.shape(), Shape({3, 18, 3, 12, 10}));
    for (QueryViews v : {QueryViews::all, QueryViews::flips, QueryViews::clean}) {
      SCOPED_TRACE(query_views_name(v));
      Tensor part = query_views(Stream::cpu(), imgs, ids, nz, dt, v);
      const std::vector<int64_t> rows = query_view_indices(v);
      ASSERT_EQ(part.shape(), Shape({3, int64_t(rows.size()), 3, 12, 10}));
      for (size_t a = 0; a < rows.size(); ++a)
        EXPECT_TRUE(test::all_close(part.select(1, int64_t(a)), full.select(1, rows[a]), 0, 0)) << "view " << rows[a];
    }
  }
  // The clean selection is plain normalisation, the flip of the flips selection the mirrored image.
  Tensor clean = query_views(Stream::cpu(), imgs, ids, nz, DType::f64, QueryViews::clean);
  EXPECT_TRUE(test::all_close(clean.select(1, 0), normalize_batch(Stream::cpu(), imgs, ids, nz, DType::f64), 0, 0));
  Tensor flips = query_views(Stream::cpu(), imgs, ids, nz, DType::f64, QueryViews::flips);
  for (int64_t y = 0; y < 12; ++y)
    for (int64_t x = 0; x < 10; ++x) ASSERT_EQ(flips.item({1, 1, 2, y, x}), flips.item({1, 0, 2, y, 9 - x})) << y << "," << x;
}

TEST(DataAugment, ReflectPaddingAndExplicitParams) {
  Tensor imgs = random_images(2, 3, 8, 8, 9);
  Normalization nz = Normalization::identity(3);
  std::vector<int32_t> pv;
  std::vector<std::array<int, 3>> cases = {{0, 0, 0}, {6, 6, 1}, {0, 6, 1}, {3, 1, 0}};
  for (auto& c : cases) pv.insert(pv.end(), {c[0], c[1], c[2]});
  Tensor params = Tensor::from_vector(pv, {1, 4, 3});
  Tensor out = Tensor::empty({2, 4, 3, 8, 8}, DType::f64);
  for (PadMode mode : {PadMode::zero, PadMode::reflect}) {
    crop_flip_normalize(Stream::cpu(), out, imgs, ids_of({1, 0}), params, 3, mode, nz.params());
    for (int64_t n = 0; n < 2; ++n)
      for (int v = 0; v < 4; ++v) {
        auto want = naive_view(imgs, 1 - n, cases[size_t(v)][0], cases[size_t(v)][1], cases[size_t(v)][2] != 0, 3,
                               mode == PadMode::reflect, nz);
        EXPECT_TRUE(test::all_close(out.select(0, n).select(0, v), Tensor::from_vector(want, {3, 8, 8}), 1e-15, 0))
            << "mode " << int(mode) << " n " << n << " case " << v;
      }
  }
  // Identity normalisation of 255 is exactly 1; CIFAR normalisation of 0 is -mean/std.
  Tensor white = Tensor::full({1, 3, 4, 4}, 255.0, DType::u8);
  Tensor o = normalize_batch(Stream::cpu(), white, ids_of({0}), Normalization::identity(3), DType::f32);
  EXPECT_EQ(o.item({0, 2, 3, 3}), 1.0);
  Tensor z = normalize_batch(Stream::cpu(), Tensor::zeros({1, 3, 4, 4}, DType::u8), ids_of({0}));
  EXPECT_NEAR(z.item({0, 0, 0, 0}), -0.4914 / 0.2023, 1e-6);
}

TEST(DataAugment, RandomParamsDistributionAndDeterminism) {
  const int64_t n = 9000;
  std::vector<int64_t> idv(n);
  for (int64_t i = 0; i < n; ++i) idv[size_t(i)] = i * 7 + 3;
  Tensor ids = ids_of(idv);
  AugmentConfig cfg;
  std::vector<int32_t> p = augment_params(Stream::cpu(), ids, 42, 3, cfg).to_vector<int32_t>();
  std::vector<int64_t> cy(9, 0), cx(9, 0);
  int64_t flips = 0;
  for (int64_t i = 0; i < n; ++i) {
    ASSERT_GE(p[size_t(3 * i)], 0);
    ASSERT_LE(p[size_t(3 * i)], 8);
    ++cy[size_t(p[size_t(3 * i)])];
    ++cx[size_t(p[size_t(3 * i + 1)])];
    flips += p[size_t(3 * i + 2)];
  }
  EXPECT_GT(test::chi_square_p_value(test::chi_square_uniform(cy), 8), 1e-4);
  EXPECT_GT(test::chi_square_p_value(test::chi_square_uniform(cx), 8), 1e-4);
  EXPECT_NEAR(double(flips) / n, 0.5, 0.03);
  // Same (seed, epoch, id) -> same parameters, whatever else is in the batch.
  std::vector<int32_t> one = augment_params(Stream::cpu(), ids_of({idv[17]}), 42, 3, cfg).to_vector<int32_t>();
  EXPECT_EQ(one, std::vector<int32_t>(p.begin() + 51, p.begin() + 54));
  EXPECT_EQ(augment_params(Stream::cpu(), ids, 42, 3, cfg).to_vector<int32_t>(), p);
  EXPECT_NE(augment_params(Stream::cpu(), ids, 42, 4, cfg).to_vector<int32_t>(), p);
  EXPECT_NE(augment_params(Stream::cpu(), ids, 43, 3, cfg).to_vector<int32_t>(), p);
  cfg.flip = false;
  std::vector<int32_t> nf = augment_params(Stream::cpu(), ids, 42, 3, cfg).to_vector<int32_t>();
  for (int64_t i = 0; i < n; ++i) ASSERT_EQ(nf[size_t(3 * i + 2)], 0);
}

TEST(DataAugment, BatchUsesItsParams) {
  Tensor imgs = random_images(5, 3, 32, 32, 1);
  Tensor ids = ids_of({4, 1, 1});
  AugmentConfig cfg;
  cfg.pad_mode = PadMode::reflect;
  Tensor out = augment_batch(Stream::cpu(), imgs, ids, 7, 0, cfg);
  ASSERT_EQ(out.shape(), Shape({3, 3, 32, 32}));
  std::vector<int32_t> p = augment_params(Stream::cpu(), ids, 7, 0, cfg).to_vector<int32_t>();
  for (int64_t n = 0; n < 3; ++n) {
    auto want = naive_view(imgs, ids.to_vector<int64_t>()[size_t(n)], p[size_t(3 * n)], p[size_t(3 * n + 1)],
                           p[size_t(3 * n + 2)] != 0, 4, true, cfg.norm);
    EXPECT_TRUE(test::all_close(out.select(0, n), Tensor::from_vector(want, {3, 32, 32}), 1e-6, 1e-6)) << n;
  }
}

TEST(DataAugment, BadInput) {
  Stream& s = Stream::cpu();
  Tensor imgs = random_images(2, 3, 8, 8, 2);
  NormalizeParams np = Normalization::cifar10().params();
  Tensor p1 = Tensor::zeros({1, 1, 3}, DType::i32);
  Tensor out = Tensor::empty({1, 1, 3, 8, 8}, DType::f32);
  EXPECT_THROW(crop_flip_normalize(s, out, imgs, ids_of({2}), p1, 4, PadMode::zero, np), Error);   // src range
  EXPECT_THROW(crop_flip_normalize(s, out, imgs, ids_of({-1}), p1, 4, PadMode::zero, np), Error);
  EXPECT_THROW(crop_flip_normalize(s, out, imgs.to(DType::f32), ids_of({0}), p1, 4, PadMode::zero, np), Error);
  EXPECT_THROW(crop_flip_normalize(s, out, imgs, ids_of({0}), p1, 8, PadMode::reflect, np), Error);  // pad >= H
  EXPECT_THROW(crop_flip_normalize(s, out, imgs, ids_of({0}), Tensor::full({1, 1, 3}, 9.0, DType::i32), 4,
                                   PadMode::zero, np), Error);  // offset beyond 2 pad
  EXPECT_THROW(crop_flip_normalize(s, Tensor::empty({1, 1, 3, 8, 8}, DType::i32), imgs, ids_of({0}), p1, 4,
                                   PadMode::zero, np), Error);
  EXPECT_THROW(crop_flip_normalize(s, out, imgs, ids_of({0}), p1, 4, PadMode::zero, Normalization::identity(1).params()),
               Error);
  EXPECT_THROW(crop_flip_normalize(s, Tensor::empty({1, 2, 3, 8, 8}, DType::f32), imgs, ids_of({0}), p1, 4,
                                   PadMode::zero, np), Error);
  EXPECT_THROW(Normalization({{0.5}, {0.0}}).params(), Error);
  EXPECT_THROW(query_views(s, imgs.flatten(), ids_of({0})), Error);
}
