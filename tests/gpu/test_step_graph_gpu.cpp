// The trainer's step as a CUDA graph (paradigms/engine/step_graph.h): N graph-replayed steps leave the
// parameters, buffers and optimiser state byte for byte where N eager steps leave them (a ResNet-18 of width 8
// on shapes10 with a final partial batch each epoch, SGD with Nesterov momentum and AdamW under a warm-up
// cosine schedule, so the learning rate changes every step), and a host synchronisation or a staged upload
// during capture is refused by name.
// Skips without a GPU.
#include <cstring>

#include "data/procedural.h"
#include "kernels/cuda_api.h"
#include "kernels/cuda_graph_api.h"
#include "kernels/host_staging.h"
#include "paradigms/engine/train_loop.h"
#include "tests/gpu/gpu_test_util.h"

using namespace sp;

namespace {

// SGD with Nesterov momentum, or AdamW (whose bias corrections follow the device step count).
TrainRecipe recipe(OptimKind kind) {
  TrainRecipe r;
  r.epochs = 2;
  r.batch_size = 32;
  r.optim.kind = kind;
  r.optim.weight_decay = kind == OptimKind::sgd ? 5e-4 : 0.05;
  if (kind == OptimKind::sgd) {
    r.optim.momentum = 0.9;
    r.optim.nesterov = true;
  }
  r.schedule.kind = ScheduleKind::warmup_cosine;  // a new learning rate every step
  r.schedule.warmup_steps = 3;
  r.schedule.base_lr = kind == OptimKind::sgd ? 0.05 : 1e-3;
  return r;
}

struct Trained {
  std::vector<uint8_t> theta, buffers, optim_state;
  std::vector<double> losses;
};

std::vector<uint8_t> bytes(const Tensor& t, Stream& s) {
  std::vector<float> v = t.to_vector<float>(s);
  std::vector<uint8_t> b(v.size() * sizeof(float));
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}

Trained train(OptimKind kind, CudaGraphMode mode, bool check_graph = false) {
  Stream& s = test::gpu_stream();
  s.allow_tf32 = false;
  static std::unique_ptr<Model> model = [] {
    ModelConfig mc;
    mc.width = 8;
    return make_model(mc);
  }();
  DeviceData d = DeviceData::upload(data::make_shapes10(200, 4, "train"), s);  // 6 batches of 32 and one of 8
  Trainer tr(*model, recipe(kind), s, 11);
  TrainExecution ex;
  ex.cuda_graphs = mode;
  ex.graph_warmup_steps = 2;
  tr.set_execution(ex);
  Trained r;
  for (int e = 0; e < 2; ++e) r.losses.push_back(tr.train_epoch(d, e).loss);
  r.theta = bytes(tr.theta(), s);
  r.buffers = bytes(tr.buffers(), s);
  for (const auto& [name, t] : tr.optimizer().state())
    if (name != "step") {
      std::vector<uint8_t> b = bytes(t, s);
      r.optim_state.insert(r.optim_state.end(), b.begin(), b.end());
    }
  if (check_graph) {
    EXPECT_NE(tr.step_graph(), nullptr);
    if (tr.step_graph()) {
      EXPECT_EQ(tr.step_graph()->captures(), 1) << "one capture; the partial batches ran eagerly";
      EXPECT_EQ(tr.step_graph()->replays(), 12 - 2) << "every full batch after the warm-up";
      EXPECT_EQ(tr.step_graph()->eager_steps(), 2 + 2);
    }
  }
  return r;
}

}  // namespace

TEST(StepGraphGpu, ReplayedStepsEqualEagerStepsByteForByte) {
  SP_REQUIRE_GPU();
  for (OptimKind kind : {OptimKind::sgd, OptimKind::adamw}) {
    SCOPED_TRACE(std::string(optim_kind_name(kind)));
    Trained eager = train(kind, CudaGraphMode::off);
    Trained eager2 = train(kind, CudaGraphMode::off);
    ASSERT_EQ(eager.theta, eager2.theta) << "eager training is not reproducible on this GPU, so a graph cannot be "
                                            "compared with it byte for byte";
    Trained graphed = train(kind, CudaGraphMode::on, true);
    EXPECT_EQ(graphed.losses, eager.losses);
    EXPECT_EQ(graphed.theta, eager.theta);
    EXPECT_EQ(graphed.buffers, eager.buffers);
    EXPECT_EQ(graphed.optim_state, eager.optim_state);
  }
}

TEST(StepGraphGpu, HostSynchronisationDuringCaptureIsRefusedByName) {
  SP_REQUIRE_GPU();
  std::unique_ptr<Stream> s = Stream::create_cuda(0);
  Tensor t = Tensor::zeros({16}, DType::f32, *s);
  HostUploader up(*s);
  cuda_api::begin_capture(*s);
  EXPECT_TRUE(cuda_api::capturing(*s));
  try {
    s->synchronize();
    ADD_FAILURE() << "synchronize during capture did not throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("Stream::synchronize"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("during CUDA graph capture"), std::string::npos) << e.what();
  }
  EXPECT_THROW(t.to_vector<float>(*s), Error);  // a device-to-host copy
  EXPECT_THROW(up.upload(std::vector<int64_t>{1, 2}, {2}), Error);  // would replay stale staging data
  cuda_api::abort_capture(*s);
  EXPECT_FALSE(cuda_api::capturing(*s));
  EXPECT_EQ(t.to_vector<float>(*s), std::vector<float>(16, 0.f)) << "the stream works again after the abort";
}

TEST(StepGraphGpu, AGraphReplaysWithTheSameMemory) {
  SP_REQUIRE_GPU();
  std::unique_ptr<Stream> s = Stream::create_cuda(0);
  Tensor x = Tensor::full({1000}, 1.0, DType::f32, *s);
  Tensor y;
  cuda_api::begin_capture(*s);
  y = Tensor::empty({1000}, DType::f32, *s);  // from the capture's pool
  y.copy_(x, *s);
  std::unique_ptr<cuda_api::StreamGraph> graph = cuda_api::end_capture(*s);
  x.fill_(3.0, *s);
  graph->replay(*s);
  EXPECT_EQ(y.to_vector<float>(*s), std::vector<float>(1000, 3.f));
  EXPECT_GT(cuda_api::pool_stats(0).bytes_graph_pools, 0u);
  y = Tensor();
  graph.reset();
  EXPECT_EQ(cuda_api::pool_stats(0).bytes_graph_pools, 0u);
}
