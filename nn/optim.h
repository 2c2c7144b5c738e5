// Optimisers over a flat parameter buffer ([P] or a stack [n_models, P]): SGD (momentum, Nesterov, weight
// decay) and Adam / AdamW with PyTorch semantics. Each step is one fused kernel (kernels/optim.h) that reads
// the learning rate and the step count from two device scalars the optimiser owns; the host fills them
// before each step through a pinned staging buffer without synchronising (kernels/host_staging.h), so a
// schedule (nn/schedule.h) drives it without host synchronisation, and a CUDA graph of a training step
// (paradigms/engine/step_graph.h) replays with each step's values: prepare() outside the graph, apply()
// inside it, advance() after.
// The state (step count and per-element buffers) is exposed as named flat tensors for checkpoints
// (nn/safetensors.h). Tested in tests/test_optim.cpp and tests/gpu/test_optim_gpu.cpp.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "kernels/host_staging.h"
#include "kernels/tensor.h"

namespace sp {

enum class OptimKind : uint8_t { sgd, adam, adamw };
std::string_view optim_kind_name(OptimKind k);
OptimKind optim_kind_from_name(std::string_view name);  // "sgd", "adam", "adamw"

struct OptimConfig {
  OptimKind kind = OptimKind::sgd;
  double weight_decay = 0;  // SGD and Adam: g += wd p; AdamW: p *= 1 - lr wd
  // SGD
  double momentum = 0;
  double dampening = 0;
  bool nesterov = false;
  // Adam / AdamW
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // Updates `params` in place from `grads` (both contiguous, of the shape, dtype and device given at
  // construction) with learning rate lr, and advances the step count. Work is enqueued on s.
  void step(Stream& s, const Tensor& params, const Tensor& grads, double lr);
  // step() in three parts, for a captured step: prepare() fills the device scalars with lr and the step
  // about to be taken (ordered on s, not captured), apply() enqueues the update from them (capturable),
  // advance() counts the step on the host.
  void prepare(Stream& s, double lr);
  void apply(Stream& s, const Tensor& params, const Tensor& grads);
  void advance() { ++step_; }
  int64_t steps() const { return step_; }  // steps taken so far
  const OptimConfig& config() const { return cfg_; }

  // Named state: prefix + "step" (i64 scalar on the CPU) and the per-element buffers ("momentum_buffer";
  // "exp_avg", "exp_avg_sq"), which share storage with the optimiser. Checkpoint with save_safetensors.
  std::map<std::string, Tensor> state(const std::string& prefix = "") const;
  // Restores what state() returned (values copied; dtype and device converted). Throws naming missing keys.
  void load_state(const std::map<std::string, Tensor>& st, const std::string& prefix = "",
                  Stream& s = Stream::cpu());

 protected:
  // decay_mask: optional u8 mask (ParamLayout::decay_mask) of the parameters' numel or last dimension.
  Optimizer(const OptimConfig& cfg, const Tensor& params, const Tensor& decay_mask);
  Tensor add_buffer(const std::string& name, Stream& s);  // zero-initialised, like the parameters
  // hyper: f64 [2] {lr, step counted from 1} on the parameters' device.
  virtual void update(Stream& s, const Tensor& params, const Tensor& grads, const Tensor& hyper) = 0;

  OptimConfig cfg_;
  Tensor mask_;
  int64_t step_ = 0;

 private:
  Shape shape_;
  DType dtype_;
  Device device_;
  std::vector<std::pair<std::string, Tensor>> buffers_;
  Tensor hyper_;  // the device scalars; never checkpointed (prepare() fills them from the host's state)
  std::unique_ptr<HostUploader> uploader_;
};

class Sgd final : public Optimizer {
 public:
  Sgd(const OptimConfig& cfg, const Tensor& params, Stream& s, const Tensor& decay_mask = {});

 private:
  void update(Stream& s, const Tensor& params, const Tensor& grads, const Tensor& hyper) override;
  Tensor buf_;  // undefined without momentum
};

// Adam (kind adam) and AdamW (kind adamw).
class Adam final : public Optimizer {
 public:
  Adam(const OptimConfig& cfg, const Tensor& params, Stream& s, const Tensor& decay_mask = {});

 private:
  void update(Stream& s, const Tensor& params, const Tensor& grads, const Tensor& hyper) override;
  Tensor m_, v_;
};

std::unique_ptr<Optimizer> make_optimizer(const OptimConfig& cfg, const Tensor& params, Stream& s,
                                          const Tensor& decay_mask = {});

}  // namespace sp
