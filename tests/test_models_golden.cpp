// ResNet-18 (width 8) and ConvNet-3 (width 32) against the PyTorch golden states (shared/golden): in f64
// every quantity of the protocol (tests/model_golden.h) agrees to 1e-8 relative, in f32 to
// 1e-4 (observed ~4e-14 and ~3e-6); and the layouts hold exactly the reference's parameter and buffer names and shapes.
#include <cstdio>

#include "tests/golden_util.h"
#include "tests/model_golden.h"

using namespace sp;
using namespace sp::test;

namespace {

ModelConfig golden_config(const std::string& name, int64_t width) {
  ModelConfig c;
  c.name = name;
  c.width = width;
  return c;
}

// Every "<prefix><name>" key of the file (num_batches_tracked aside: the layouts do not keep it) is in
// the layout with the same shape, and vice versa.
void expect_same_names(const TensorFile& f, const ParamLayout& layout, const std::string& prefix) {
  int64_t keys = 0;
  for (const auto& [k, v] : f.tensors) {
    if (k.rfind(prefix, 0) != 0 || k.ends_with("num_batches_tracked")) continue;
    ++keys;
    const ParamSpec* p = layout.find(k.substr(prefix.size()));
    EXPECT_TRUE(p) << k << " is not in the layout";
    if (p) EXPECT_EQ(p->shape, v.shape()) << k;
  }
  EXPECT_EQ(keys, layout.size()) << prefix;
}

void check_golden(const std::string& file, const ModelConfig& cfg, int64_t params) {
  SP_REQUIRE_GOLDEN(path, file);
  auto model = make_model(cfg);
  EXPECT_EQ(model->params().numel(), params);
  TensorFile f = load_safetensors(path);
  expect_same_names(f, model->params(), "param/");
  expect_same_names(f, model->buffers(), "buffer/");
  for (DType dt : {DType::f64, DType::f32}) {
    const double tol = dt == DType::f64 ? 1e-8 : 1e-4;
    GoldenReport r = run_golden(path, cfg, Stream::cpu(), dt);
    std::printf("[golden] %s %s: max normwise relative error %.3g%s\n", file.c_str(),
                std::string(dtype_name(dt)).c_str(), r.max_error(), r.str().c_str());
    // ResNet: 9 quantities (with BN running stats); ConvNet: 8 plus its conv biases, whose gradients vanish.
    EXPECT_EQ(r.quantities.size(), 9u);
    for (const auto& [q, e] : r.quantities) EXPECT_LE(e.error, tol) << q << " (worst: " << e.worst << ")";
  }
}

}  // namespace

TEST(ModelsGolden, ResNet18Width8) { check_golden("resnet18_w8.safetensors", golden_config("resnet18", 8), 176402); }

TEST(ModelsGolden, ConvNet3Width32) { check_golden("convnet3_w32.safetensors", golden_config("convnet3", 32), 24714); }

TEST(ModelsGolden, QueryViewsAreShiftedFlippedCrops) {
  // One 1x32x32 image with pixel value 1000 i + j: view 0 is the image, view 4 (no flip, dy -4, dx -4) shifts
  // it down-right with zeros in the first four rows and columns, view 9 is the mirror image.
  std::vector<double> v(32 * 32);
  for (int i = 0; i < 32; ++i)
    for (int j = 0; j < 32; ++j) v[size_t(i * 32 + j)] = 1000 * i + j;
  Tensor q = query_views(Tensor::from_vector(v, {1, 1, 32, 32}));
  ASSERT_EQ(q.shape(), (Shape{18, 1, 32, 32}));
  EXPECT_EQ(q.item({0, 0, 7, 9}), 7009);
  EXPECT_EQ(q.item({4, 0, 3, 10}), 0);
  EXPECT_EQ(q.item({4, 0, 10, 3}), 0);
  EXPECT_EQ(q.item({4, 0, 10, 12}), 6008);
  EXPECT_EQ(q.item({2, 0, 5, 27}), 5031);  // dx +4
  EXPECT_EQ(q.item({2, 0, 5, 28}), 0);
  EXPECT_EQ(q.item({9, 0, 5, 0}), 5031);
  EXPECT_EQ(q.item({17, 0, 1, 1}), 5000 + 26);  // flip, dy +4, dx +4: src (5, 5) of the mirror = (5, 26)
}
