// The trainer's CUDA-graph state machine (paradigms/engine/step_graph.h) against a fake backend that logs
// what it was asked to do: warm-up, capture then replay, eager odd steps, recapture on a lasting shape
// change, invalidation, and failures during capture.
#include "paradigms/engine/step_graph.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "kernels/error.h"

using namespace sp;

namespace {
struct FakeBackend final : StepGraphBackend {
  std::vector<std::string> log;
  bool capturing = false, graph = false, fail_end = false;
  void begin_capture() override {
    EXPECT_FALSE(capturing);
    capturing = true;
    log.push_back("begin");
  }
  void end_capture() override {
    capturing = false;
    if (fail_end) throw Error("capture invalidated");
    graph = true;
    log.push_back("end");
  }
  void abort_capture() override {
    capturing = false;
    log.push_back("abort");
  }
  void replay() override {
    EXPECT_TRUE(graph);
    log.push_back("replay");
  }
  void drop() override {
    EXPECT_TRUE(graph);
    graph = false;
    log.push_back("drop");
  }
};

StepKey key(int64_t batch) {
  StepKey k;
  k.add(Tensor::empty({batch, 3}, DType::f32));
  k.add(Tensor());
  return k;
}

// One step the way the trainer runs it; returns what it did ("eager", "capture", "replay").
std::string step(StepGraph& g, const StepKey& k, int* bodies = nullptr) {
  switch (g.next(k)) {
    case StepGraph::Action::eager:
      if (bodies) ++*bodies;
      return "eager";
    case StepGraph::Action::capture:
      g.capture([&] {
        if (bodies) ++*bodies;
      });
      return "capture";
    case StepGraph::Action::replay:
      g.replay();
      return "replay";
  }
  return "?";
}
}  // namespace

TEST(StepGraph, WarmsUpThenCapturesOnceAndReplays) {
  FakeBackend b;
  {
    StepGraph g(b, 2);
    int bodies = 0;
    std::vector<std::string> did;
    for (int i = 0; i < 6; ++i) did.push_back(step(g, key(8), &bodies));
    EXPECT_EQ(did, (std::vector<std::string>{"eager", "eager", "capture", "replay", "replay", "replay"}));
    EXPECT_EQ(bodies, 3) << "the captured body runs once, while capturing";
    EXPECT_EQ(b.log, (std::vector<std::string>{"begin", "end", "replay", "replay", "replay", "replay"}))
        << "the capturing step is replayed once to run it";
    EXPECT_EQ(g.eager_steps(), 2);
    EXPECT_EQ(g.captures(), 1);
    EXPECT_EQ(g.replays(), 4);
    EXPECT_TRUE(g.has_graph());
  }
  EXPECT_FALSE(b.graph) << "the graph is destroyed with its state machine";
}

TEST(StepGraph, OddStepsRunEagerlyAndKeepTheGraph) {
  FakeBackend b;
  StepGraph g(b, 1);
  std::vector<std::string> did;
  for (int epoch = 0; epoch < 4; ++epoch) {
    for (int i = 0; i < 3; ++i) did.push_back(step(g, key(8)));
    did.push_back(step(g, key(5)));  // the final partial batch of each epoch
  }
  EXPECT_EQ(g.captures(), 1) << "a partial batch per epoch never builds a streak between replays";
  EXPECT_EQ(did[4], "replay");
  EXPECT_EQ(did[7], "eager");
  EXPECT_EQ(did[15], "eager");
}

TEST(StepGraph, ALastingShapeChangeRecaptures) {
  FakeBackend b;
  StepGraph g(b, 1);
  step(g, key(8));
  EXPECT_EQ(step(g, key(8)), "capture");
  EXPECT_EQ(step(g, key(4)), "eager");
  EXPECT_EQ(step(g, key(4)), "capture");
  EXPECT_EQ(g.last_invalidation(), "the step's shapes changed");
  EXPECT_EQ(step(g, key(4)), "replay");
  EXPECT_EQ(step(g, key(8)), "eager") << "the old key's graph is gone";
  EXPECT_EQ(g.captures(), 2);
  EXPECT_EQ(std::count(b.log.begin(), b.log.end(), "drop"), 1);
}

TEST(StepGraph, InvalidateDropsTheGraphAndRestartsTheWarmUp) {
  FakeBackend b;
  StepGraph g(b, 1);
  step(g, key(8));
  step(g, key(8));
  ASSERT_TRUE(g.has_graph());
  g.invalidate("resumed from a checkpoint");
  EXPECT_FALSE(g.has_graph());
  EXPECT_FALSE(b.graph);
  EXPECT_EQ(g.last_invalidation(), "resumed from a checkpoint");
  EXPECT_EQ(step(g, key(8)), "eager");
  EXPECT_EQ(step(g, key(8)), "capture");
  g.invalidate("again");  // twice in a row is fine
  g.invalidate("again");
}

TEST(StepGraph, NoWarmUpCapturesTheFirstStep) {
  FakeBackend b;
  StepGraph g(b, 0);
  EXPECT_EQ(step(g, key(2)), "capture");
  EXPECT_EQ(step(g, key(2)), "replay");
}

TEST(StepGraph, AFailingCaptureIsAbandonedAndTheErrorPropagates) {
  FakeBackend b;
  StepGraph g(b, 0);
  ASSERT_EQ(g.next(key(2)), StepGraph::Action::capture);
  EXPECT_THROW(g.capture([] { throw Error("Stream::synchronize during CUDA graph capture"); }), Error);
  EXPECT_EQ(b.log.back(), "abort");
  EXPECT_FALSE(b.capturing);
  EXPECT_FALSE(g.has_graph());
  b.fail_end = true;
  ASSERT_EQ(g.next(key(2)), StepGraph::Action::capture);
  EXPECT_THROW(g.capture([] {}), Error);
  EXPECT_FALSE(g.has_graph());
  b.fail_end = false;
  EXPECT_EQ(step(g, key(2)), "capture");
}

TEST(StepGraph, CaptureAndReplayMustFollowNext) {
  FakeBackend b;
  StepGraph g(b, 1);
  EXPECT_THROW(g.replay(), Error);
  EXPECT_THROW(g.capture([] {}), Error);
  EXPECT_EQ(g.next(key(1)), StepGraph::Action::eager);
  EXPECT_THROW(g.capture([] {}), Error);
  EXPECT_THROW(StepGraph(b, -1), Error);
}

TEST(StepGraph, ModesParseAndUnknownValuesNameTheKey) {
  EXPECT_EQ(cuda_graph_mode_from_name("auto"), CudaGraphMode::automatic);
  EXPECT_EQ(cuda_graph_mode_from_name("on"), CudaGraphMode::on);
  EXPECT_EQ(cuda_graph_mode_name(CudaGraphMode::off), "off");
  try {
    cuda_graph_mode_from_name("yes");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("device.cuda_graphs"), std::string::npos) << e.what();
  }
}

TEST(StepKey, DistinguishesShapesDtypesAndAbsentTensors) {
  StepKey a, b, c, d;
  a.add(Tensor::empty({4, 2}, DType::f32));
  b.add(Tensor::empty({4, 2}, DType::f64));
  c.add(Tensor::empty({8}, DType::f32));
  d.add(Tensor());
  EXPECT_NE(a, b);
  EXPECT_NE(a, c);
  EXPECT_NE(a, d);
  StepKey a2;
  a2.add(Tensor::empty({4, 2}, DType::f32));
  EXPECT_EQ(a, a2);
}
