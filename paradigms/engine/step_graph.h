// The CUDA-graph state machine of the trainer's step (paradigms/engine/train_loop.h), in host code apart from
// CUDA so the CPU tests (tests/test_step_graph.cpp) drive it with a fake backend.
//
// A step is described by a key: every shape and dtype its captured work depends on by value (the batch's
// tensors). The first `warmup` steps of a key run eagerly (the library handles, algorithm caches and
// workspaces settle); the next step of that key is captured into a graph and replayed, and every later
// step with that key is a replay. A step with another key runs eagerly and leaves the graph alone (the
// final partial batch of an epoch), unless that key comes `warmup` + 1 times in a row, when the graph is
// dropped and the new key captured (the batch shape changed for good). invalidate() drops the graph and
// restarts the warm-up (a resumed run, a new loss). The learning rate and step count need no invalidation:
// the optimiser reads them from device scalars filled before each replay (nn/optim.h).
//
// Capturing records the step without running it, so the step that captures is then replayed once.
// StreamGraphBackend is the CUDA backend (kernels/cuda_graph_api.h); its graph keeps the memory the step
// allocated during capture (the caching allocator's graph pool), so every replay finds the same addresses.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "kernels/cuda_graph_api.h"
#include "kernels/tensor.h"

namespace sp {

// device.cuda_graphs: off (every step eager), on (graphs; an error on the CPU), auto (graphs on CUDA).
enum class CudaGraphMode : uint8_t { off, on, automatic };
std::string_view cuda_graph_mode_name(CudaGraphMode m);  // "off", "on", "auto"
CudaGraphMode cuda_graph_mode_from_name(std::string_view name);  // throws naming device.cuda_graphs

struct StepKey {
  std::vector<int64_t> parts;
  bool operator==(const StepKey& o) const { return parts == o.parts; }
  bool operator!=(const StepKey& o) const { return !(*this == o); }
  // Adds a tensor's dtype and shape (an undefined tensor counts too, as absent).
  void add(const Tensor& t);
};

class StepGraphBackend {
 public:
  virtual ~StepGraphBackend() = default;
  virtual void begin_capture() = 0;
  virtual void end_capture() = 0;    // the captured work becomes the graph
  virtual void abort_capture() = 0;  // ends a capture whose work threw, discarding it
  virtual void replay() = 0;
  virtual void drop() = 0;           // destroys the graph
};

class StepGraph {
 public:
  enum class Action { eager, capture, replay };
  StepGraph(StepGraphBackend& backend, int warmup);
  ~StepGraph();

  // What the step with `key` does; the caller then runs it eagerly, calls capture(), or calls replay().
  Action next(const StepKey& key);
  // Captures `body` (the step's work, enqueued on the backend's stream) and replays it once. When body or
  // the capture throws, the capture is abandoned, the warm-up restarts, and the error propagates.
  void capture(const std::function<void()>& body);
  void replay();
  void invalidate(std::string why);

  bool has_graph() const { return has_graph_; }
  int64_t eager_steps() const { return eager_; }
  int64_t captures() const { return captures_; }
  int64_t replays() const { return replays_; }
  const std::string& last_invalidation() const { return why_; }

 private:
  void drop_graph();
  StepGraphBackend& backend_;
  int warmup_;
  bool has_graph_ = false;
  StepKey graph_key_, streak_key_, pending_key_;
  int64_t streak_ = 0;
  Action pending_ = Action::eager;  // what next() last answered, for capture()/replay() to check
  bool answered_ = false;
  int64_t eager_ = 0, captures_ = 0, replays_ = 0;
  std::string why_;
};

// The CUDA backend: captures and replays on stream s.
class StreamGraphBackend final : public StepGraphBackend {
 public:
  explicit StreamGraphBackend(Stream& s) : s_(s) {}
  void begin_capture() override { cuda_api::begin_capture(s_); }
  void end_capture() override { graph_ = cuda_api::end_capture(s_); }
  void abort_capture() override { cuda_api::abort_capture(s_); }
  void replay() override { graph_->replay(s_); }
  void drop() override { graph_.reset(); }

 private:
  Stream& s_;
  std::unique_ptr<cuda_api::StreamGraph> graph_;
};

}  // namespace sp
