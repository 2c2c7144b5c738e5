// The models on CUDA: every model's forward and backward (theta and input gradients, running statistics)
// against the CPU in f32 with TF32 off, and the golden PyTorch states (tests/model_golden.h) replayed in f32
// on the GPU.
#include <cstdio>

#include "nn/model.h"
#include "tests/golden_util.h"
#include "tests/gpu/gpu_test_util.h"
#include "tests/model_golden.h"

using namespace sp;
using namespace sp::test;

namespace {

// Full-precision f32 matrix work for the scope (the comparisons are against an f32 CPU reference).
struct NoTf32 {
  Stream& s;
  bool was;
  explicit NoTf32(Stream& st) : s(st), was(st.allow_tf32) { s.allow_tf32 = false; }
  ~NoTf32() { s.allow_tf32 = was; }
};

ModelConfig config(const std::string& name, int64_t width, int64_t image_size) {
  ModelConfig c;
  c.name = name;
  c.width = width;
  c.image_size = image_size;
  return c;
}

}  // namespace

TEST(ModelsGpu, ForwardBackwardMatchCpu) {
  SP_REQUIRE_GPU();
  Stream& g = gpu_stream();
  NoTf32 no_tf32(g);
  for (const char* name : {"resnet18", "resnet18_gn", "wrn16_4", "convnet3"}) {
    for (bool training : {true, false}) {
      SCOPED_TRACE(std::string(name) + (training ? " train" : " eval"));
      auto model = make_model(config(name, 8, 16));
      Tensor theta = Tensor::empty({model->params().numel()}, DType::f32);
      Tensor buffers = Tensor::empty({model->buffers().numel()}, DType::f32);
      model->init(Stream::cpu(), theta, buffers, 3);
      Tensor bc = buffers.clone(), bg = buffers.to(g.device(), g);
      Tensor x = randn({4, 3, 16, 16}, DType::f32, 5);
      // Same tolerances as the f32-vs-f64 CPU check in tests/test_models.cpp.
      compare_backends(
          {theta, x}, {true, true},
          [&](Tape& t, const std::vector<Var>& v) {
            return model->forward(t, v[0], t.stream().is_cuda() ? bg : bc, v[1], training);
          },
          2e-3, 2e-4);
      EXPECT_TRUE(all_close(bg, bc, 2e-3, 2e-4, g)) << "running statistics";
    }
  }
}

TEST(ModelsGpu, GoldenStatesInFloat32) {
  SP_REQUIRE_GPU();
  Stream& g = gpu_stream();
  NoTf32 no_tf32(g);
  struct Case {
    const char* file;
    const char* model;
    int64_t width;
  };
  for (Case k : {Case{"resnet18_w8.safetensors", "resnet18", 8}, Case{"convnet3_w32.safetensors", "convnet3", 32}}) {
    std::string path = golden_path(k.file);
    if (path.empty()) GTEST_SKIP() << "golden file " << k.file << " not found";
    ModelConfig c = config(k.model, k.width, 32);
    GoldenReport r = run_golden(path, c, g, DType::f32);
    std::printf("[golden gpu] %s f32: max normwise relative error %.3g%s\n", k.file, r.max_error(), r.str().c_str());
    for (const auto& [q, e] : r.quantities) EXPECT_LE(e.error, 1e-3) << k.file << " " << q << " (" << e.worst << ")";
  }
}
