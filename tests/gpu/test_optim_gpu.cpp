// Optimiser steps on CUDA against the CPU reference: every optimiser kind, decay masks (full and one row over
// a stack), shapes that leave partial blocks, several steps with changing learning rates, f32 (~1e-6) and
// f64 (~1e-12); plus a CUDA tensor written to and read from a safetensors checkpoint.
#include <unistd.h>

#include <filesystem>

#include "nn/optim.h"
#include "nn/safetensors.h"
#include "tests/gpu/gpu_test_util.h"

using namespace sp;
using namespace sp::test;

namespace {

std::vector<OptimConfig> configs() {
  std::vector<OptimConfig> v;
  OptimConfig c;
  c.kind = OptimKind::sgd;
  c.weight_decay = 1e-2;
  v.push_back(c);  // plain SGD
  c.momentum = 0.9;
  c.dampening = 0.2;
  v.push_back(c);  // momentum with dampening
  c.dampening = 0;
  c.nesterov = true;
  c.weight_decay = 5e-4;
  v.push_back(c);  // Nesterov
  OptimConfig a;
  a.kind = OptimKind::adam;
  a.weight_decay = 1e-2;
  v.push_back(a);
  a.kind = OptimKind::adamw;
  a.beta1 = 0.8;
  a.beta2 = 0.99;
  a.eps = 1e-6;
  v.push_back(a);
  return v;
}

// Same initial parameters, gradients and learning rates on both backends; compares parameters and every
// state buffer after each step.
void compare(const OptimConfig& c, const Shape& shape, DType dt, const std::vector<uint8_t>& mask, double tol) {
  Stream& g = gpu_stream();
  Tensor pc = randn(shape, dt, 5).clone();
  Tensor pg = pc.to(g.device(), g);
  Tensor mc, mg;
  if (!mask.empty()) {
    mc = Tensor::from_vector(mask, {int64_t(mask.size())});
    mg = mc.to(g.device(), g);
  }
  auto oc = make_optimizer(c, pc, Stream::cpu(), mc);
  auto og = make_optimizer(c, pg, g, mg);
  for (int k = 0; k < 3; ++k) {
    double lr = 0.05 * (1 + k);
    Tensor gc = randn(shape, dt, 40 + uint64_t(k), 1.0 + k);
    oc->step(Stream::cpu(), pc, gc, lr);
    og->step(g, pg, gc.to(g.device(), g), lr);
    EXPECT_TRUE(all_close(pg, pc, tol, tol, g)) << optim_kind_name(c.kind) << " " << shape << " step " << k;
    auto sc = oc->state(), sg = og->state();
    for (const auto& [name, t] : sc)
      EXPECT_TRUE(all_close(sg.at(name), t, tol, tol, g)) << optim_kind_name(c.kind) << " " << name << " step " << k;
  }
}

}  // namespace

TEST(OptimGpu, MatchesCpuF32) {
  SP_REQUIRE_GPU();
  for (const OptimConfig& c : configs())
    for (Shape s : {Shape{1}, Shape{257}, Shape{1000, 33}}) compare(c, s, DType::f32, {}, 1e-6);
}

TEST(OptimGpu, MatchesCpuF64) {
  SP_REQUIRE_GPU();
  for (const OptimConfig& c : configs()) compare(c, {4099}, DType::f64, {}, 1e-12);
}

TEST(OptimGpu, DecayMasksMatchCpu) {
  SP_REQUIRE_GPU();
  std::vector<uint8_t> full(777), row(37);
  for (size_t i = 0; i < full.size(); ++i) full[i] = (i * 7) % 5 != 0;
  for (size_t i = 0; i < row.size(); ++i) row[i] = i % 4 != 1;
  for (const OptimConfig& c : configs()) {
    compare(c, {777}, DType::f32, full, 1e-6);
    compare(c, {5, 37}, DType::f32, row, 1e-6);  // one row broadcast over a stack of 5 models
  }
}

TEST(OptimGpu, CheckpointCopiesCudaTensorsToTheHost) {
  SP_REQUIRE_GPU();
  Stream& g = gpu_stream();
  Tensor c = randn({3, 17}, DType::f32, 8);
  auto path = (std::filesystem::temp_directory_path() / ("sp_optim_gpu_" + std::to_string(::getpid()))).string();
  save_safetensors(path, {{"w", c.to(g.device(), g)}, {"host", c}}, {}, g);
  TensorFile f = load_safetensors(path);
  std::filesystem::remove(path);
  EXPECT_TRUE(all_close(f.at("w"), c, 0, 0));
  EXPECT_TRUE(all_close(f.at("host"), c, 0, 0));
  EXPECT_THROW(save_safetensors(path, {{"w", c.to(g.device(), g)}}), Error);  // CPU stream for a CUDA tensor
  EXPECT_FALSE(std::filesystem::exists(path));
}
