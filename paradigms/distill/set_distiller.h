// The seam between a shadow's distillation driver (distill_shadow.cpp: checkpoints, progress, files) and a
// distillation method: DC / DSA / DM (distiller.h) or MTT / DATM (trajectory_distiller.h). A method owns the
// synthetic images (class-major, ipc per class) and advances them one iteration at a time; its whole state
// is a map of tensors, so a checkpoint resumes it exactly. Tested through tests/test_distill*.cpp.
#pragma once
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "kernels/tensor.h"

namespace sp::distill {

class SetDistiller {
 public:
  virtual ~SetDistiller() = default;
  virtual int64_t iteration() const = 0;
  // The synthetic images, f32 [classes * ipc, C, H, W] on the device, class-major.
  virtual const Tensor& images() const = 0;
  virtual std::vector<int64_t> labels() const = 0;
  // Runs iteration iteration() and advances; returns its loss.
  virtual double step() = 0;
  virtual std::map<std::string, Tensor> state() const = 0;
  virtual void load_state(const std::map<std::string, Tensor>& st, const std::string& who) = 0;
  // What the audited model's training takes from the method besides the images: the learned step size (0:
  // none, the recipe's rate applies) and soft-label probabilities [N, classes] (undefined: hard labels).
  virtual double learned_lr() const { return 0; }
  virtual Tensor soft_labels() const { return {}; }
  // Entries for distill.json beyond the common ones.
  virtual nlohmann::json record() const { return nlohmann::json::object(); }
};

}  // namespace sp::distill
