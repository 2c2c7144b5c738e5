// Dataset distillation on the GPU: from the same initial images, a DC, a DSA and a DM iteration on CUDA (TF32
// off) move the images as the CPU reference does, their losses agree, and the DSA training source gives the
// same augmented batch on both devices. Skips without a GPU.
#include <algorithm>
#include <cmath>

#include "data/procedural.h"
#include "paradigms/distill/augmented_source.h"
#include "paradigms/distill/distiller.h"
#include "tests/distill_test_util.h"
#include "tests/gpu/gpu_test_util.h"

using namespace sp;
using namespace sp::distill;

namespace {

float max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  float m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(a[i] - b[i]));
  return m;
}

}  // namespace

TEST(DistillGpu, IterationsMatchTheCpu) {
  SP_REQUIRE_GPU();
  Stream& g = test::gpu_stream();
  const bool tf32 = g.allow_tf32;
  g.allow_tf32 = false;
  data::Dataset ds = data::make_shapes10(120, 4, "train", 1);
  DeviceData dc = DeviceData::upload(ds, Stream::cpu()), dg = DeviceData::upload(ds, g);
  ClassPool pc(dc, 10, data::Normalization::cifar10()), pg(dg, 10, data::Normalization::cifar10());
  std::vector<int64_t> pos;
  for (int64_t c = 0; c < 10; ++c) pos.insert(pos.end(), pc.positions(c).begin(), pc.positions(c).begin() + 2);
  const Tensor start = pc.images(Stream::cpu(), pos).contiguous();
  for (Method m : {Method::dc, Method::dsa, Method::dm}) {
    SCOPED_TRACE(method_name(m));
    DistillConfig c = test::tiny_distill_config(m, 2, 8);
    Distiller cpu(c, pc, start.clone(), 5, Stream::cpu()), gpu(c, pg, start.to(g.device(), g), 5, g);
    for (int it = 0; it < 2; ++it) {
      const double lc = cpu.step(), lg = gpu.step();
      EXPECT_NEAR(lg, lc, 1e-3 * std::max(1.0, std::abs(lc))) << "iteration " << it;
    }
    std::vector<float> a = cpu.images().to_vector<float>(), b = gpu.images().to_vector<float>(g);
    EXPECT_LT(max_abs_diff(a, b), 2e-3f);
    EXPECT_GT(max_abs_diff(a, start.to_vector<float>()), 1e-4f) << "the images moved";
  }
  // The audited model's augmented batches.
  Tensor labels = Tensor::from_vector(std::vector<int64_t>(20, 1), {20});
  DsaImageSource sc(Stream::cpu(), start, labels, 3, dsa::parse_strategy("color_crop_cutout_flip_scale_rotate"));
  DsaImageSource sg(g, start, labels, 3, dsa::parse_strategy("color_crop_cutout_flip_scale_rotate"));
  for (int epoch = 0; epoch < 4; ++epoch) {
    sc.begin_epoch(Stream::cpu(), epoch), sg.begin_epoch(g, epoch);
    EXPECT_LT(max_abs_diff(sc.batch(Stream::cpu(), epoch, 0, 8).x.to_vector<float>(),
                           sg.batch(g, epoch, 0, 8).x.to_vector<float>(g)),
              1e-4f)
        << epoch;
  }
  g.allow_tf32 = tf32;
}
