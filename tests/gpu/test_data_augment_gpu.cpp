// Augmentation kernels: CUDA against the CPU reference, bit for bit (same per-element math, same RNG), for
// random parameters, crops with zero and reflect padding, per-image and shared parameters, f32 and f64,
// the 18 query views and whole augmented batches; an out-of-range index on the device gives NaN rows.
#include "data/augment.h"
#include "tests/gpu/gpu_test_util.h"

using namespace sp;
using namespace sp::data;

namespace {
Tensor random_images(int64_t n, int64_t c, int64_t h, int64_t w, uint64_t seed) {
  crng::Stream32 r(seed, 1);
  Tensor t = Tensor::empty({n, c, h, w}, DType::u8);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<uint8_t>()[i] = uint8_t(r.next_u32());
  return t;
}
Tensor random_ids(int64_t n, int64_t bound, uint64_t seed) {
  crng::Stream32 r(seed, 2);
  std::vector<int64_t> v(static_cast<size_t>(n));
  for (auto& x : v) x = int64_t(r.below(uint32_t(bound)));
  return Tensor::from_vector(v, {n});
}
}  // namespace

TEST(DataAugmentGpu, RandomParamsMatchCpu) {
  SP_REQUIRE_GPU();
  Stream& g = test::gpu_stream();
  for (int64_t n : {1, 257, 100000}) {
    Tensor ids = random_ids(n, 1 << 30, uint64_t(n));
    for (int32_t pad : {0, 4}) {
      Tensor pc = Tensor::empty({n, 1, 3}, DType::i32), pg = Tensor::empty({n, 1, 3}, DType::i32, g);
      random_crop_params(Stream::cpu(), pc, ids, 0x1234567890abcdefull + uint64_t(pad), pad, true);
      random_crop_params(g, pg, ids.to(g.device(), g), 0x1234567890abcdefull + uint64_t(pad), pad, true);
      EXPECT_EQ(pg.to_vector<int32_t>(g), pc.to_vector<int32_t>()) << "n " << n << " pad " << pad;
    }
  }
}

TEST(DataAugmentGpu, CropFlipNormalizeMatchesCpuExactly) {
  SP_REQUIRE_GPU();
  Stream& g = test::gpu_stream();
  struct Case {
    int64_t b, c, h, w, n, views;
    bool shared;
  };
  for (Case k : {Case{3, 3, 32, 32, 5, 1, false}, Case{4, 3, 32, 32, 3, 18, true}, Case{2, 1, 7, 9, 6, 4, false},
                 Case{64, 3, 32, 32, 300, 1, false}}) {
    Tensor imgs = random_images(k.b, k.c, k.h, k.w, uint64_t(k.b * 100 + k.n));
    Tensor src = random_ids(k.n, k.b, uint64_t(k.n));
    int32_t pad = 3;
    crng::Stream32 r(uint64_t(k.views), 3);
    std::vector<int32_t> pv;
    for (int64_t i = 0; i < (k.shared ? 1 : k.n) * k.views; ++i)
      pv.insert(pv.end(), {int32_t(r.below(7)), int32_t(r.below(7)), int32_t(r.below(2))});
    Tensor params = Tensor::from_vector(pv, {k.shared ? 1 : k.n, k.views, 3});
    NormalizeParams np = k.c == 3 ? Normalization::cifar10().params() : Normalization({{0.3}, {0.7}}).params();
    for (DType dt : {DType::f32, DType::f64})
      for (PadMode mode : {PadMode::zero, PadMode::reflect}) {
        Tensor oc = Tensor::empty({k.n, k.views, k.c, k.h, k.w}, dt);
        Tensor og = Tensor::empty({k.n, k.views, k.c, k.h, k.w}, dt, g);
        crop_flip_normalize(Stream::cpu(), oc, imgs, src, params, pad, mode, np);
        crop_flip_normalize(g, og, imgs.to(g.device(), g), src.to(g.device(), g), params.to(g.device(), g), pad,
                            mode, np);
        EXPECT_TRUE(test::all_close(og, oc, 0, 0, g)) << "case b=" << k.b << " n=" << k.n << " views=" << k.views
                                                      << " dtype " << dtype_name(dt) << " mode " << int(mode);
      }
  }
}

TEST(DataAugmentGpu, QueryViewsAndBatchesMatchCpu) {
  SP_REQUIRE_GPU();
  Stream& g = test::gpu_stream();
  Tensor imgs = random_images(50, 3, 32, 32, 77);
  Tensor ids = random_ids(40, 50, 78);
  Tensor gi = imgs.to(g.device(), g), gids = ids.to(g.device(), g);
  for (int rep = 0; rep < 2; ++rep)  // second call uses the cached device table
    EXPECT_TRUE(test::all_close(query_views(g, gi, gids), query_views(Stream::cpu(), imgs, ids), 0, 0, g));
  AugmentConfig cfg;
  for (PadMode mode : {PadMode::zero, PadMode::reflect}) {
    cfg.pad_mode = mode;
    for (uint64_t epoch : {0, 5})
      EXPECT_TRUE(test::all_close(augment_batch(g, gi, gids, 11, epoch, cfg),
                                  augment_batch(Stream::cpu(), imgs, ids, 11, epoch, cfg), 0, 0, g));
  }
  EXPECT_TRUE(test::all_close(normalize_batch(g, gi, gids), normalize_batch(Stream::cpu(), imgs, ids), 0, 0, g));
}

TEST(DataAugmentGpu, OutOfRangeIndexGivesNan) {
  SP_REQUIRE_GPU();
  Stream& g = test::gpu_stream();
  Tensor imgs = random_images(2, 3, 8, 8, 1).to(g.device(), g);
  Tensor ids = Tensor::from_vector<int64_t>({1, 7}, {2}).to(g.device(), g);
  std::vector<float> v = normalize_batch(g, imgs, ids).to_vector<float>(g);
  EXPECT_FALSE(std::isnan(v[0]));
  EXPECT_TRUE(std::isnan(v[3 * 64]));
}
