// The step-graph state machine (see step_graph.h). Tested in tests/test_step_graph.cpp.
#include "paradigms/engine/step_graph.h"

#include "kernels/error.h"

namespace sp {

std::string_view cuda_graph_mode_name(CudaGraphMode m) {
  switch (m) {
    case CudaGraphMode::off: return "off";
    case CudaGraphMode::on: return "on";
    case CudaGraphMode::automatic: return "auto";
  }
  return "?";
}

CudaGraphMode cuda_graph_mode_from_name(std::string_view name) {
  for (CudaGraphMode m : {CudaGraphMode::off, CudaGraphMode::on, CudaGraphMode::automatic})
    if (cuda_graph_mode_name(m) == name) return m;
  SP_FAIL("device.cuda_graphs: unknown value '", name, "' (expected auto, on or off)");
}

void StepKey::add(const Tensor& t) {
  if (!t.defined()) {
    parts.push_back(-1);
    return;
  }
  parts.push_back(int64_t(t.dtype()));
  parts.push_back(t.dim());
  for (int64_t d : t.shape()) parts.push_back(d);
}

StepGraph::StepGraph(StepGraphBackend& backend, int warmup) : backend_(backend), warmup_(warmup) {
  SP_CHECK(warmup >= 0, "StepGraph: warm-up of ", warmup, " steps must be >= 0");
}

StepGraph::~StepGraph() {
  if (has_graph_) backend_.drop();
}

StepGraph::Action StepGraph::next(const StepKey& key) {
  answered_ = true;
  if (has_graph_ && key == graph_key_) {
    streak_ = 0;  // an odd step between replays (the partial batch) never builds a streak across epochs
    return pending_ = Action::replay;
  }
  if (streak_ > 0 && key == streak_key_) {
    ++streak_;
  } else {
    streak_key_ = key;
    streak_ = 1;
  }
  if (streak_ > warmup_) {
    if (has_graph_) {
      drop_graph();
      why_ = "the step's shapes changed";
    }
    pending_key_ = key;
    return pending_ = Action::capture;
  }
  ++eager_;
  return pending_ = Action::eager;
}

void StepGraph::capture(const std::function<void()>& body) {
  SP_CHECK(answered_ && pending_ == Action::capture, "StepGraph::capture: next() did not ask for a capture");
  answered_ = false;
  backend_.begin_capture();
  try {
    body();
  } catch (...) {
    backend_.abort_capture();
    streak_ = 0;
    throw;
  }
  try {
    backend_.end_capture();
  } catch (...) {
    streak_ = 0;
    throw;
  }
  has_graph_ = true;
  graph_key_ = pending_key_;
  streak_ = 0;
  ++captures_;
  backend_.replay();
  ++replays_;
}

void StepGraph::replay() {
  SP_CHECK(answered_ && pending_ == Action::replay, "StepGraph::replay: next() did not ask for a replay");
  answered_ = false;
  backend_.replay();
  ++replays_;
}

void StepGraph::drop_graph() {
  if (!has_graph_) return;
  backend_.drop();
  has_graph_ = false;
}

void StepGraph::invalidate(std::string why) {
  drop_graph();
  streak_ = 0;
  answered_ = false;
  why_ = std::move(why);
}

}  // namespace sp
