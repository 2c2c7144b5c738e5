// LayerTrace: an optional record of the parametric layers a model applies during one forward pass (their
// input and output tape values and where their parameters sit in theta). DP-SGD installs one around a
// training forward to compute per-sample gradients from layer inputs and output gradients
// (paradigms/dpsgd/per_sample_grad.h); ModelBase's conv / norm / linear helpers report to the trace active
// on the calling thread, and cost nothing when none is. Tested through tests/test_dpsgd_per_sample.cpp.
#pragma once
#include <vector>

#include "kernels/conv.h"
#include "nn/tape.h"

namespace sp {

struct TracedLayer {
  enum class Kind { conv, linear, group_norm, batch_norm };
  Kind kind = Kind::conv;
  Var x, y;                       // layer input and output
  int64_t weight_offset = -1;     // range of theta ([-1] when absent)
  Shape weight_shape;
  int64_t bias_offset = -1;
  Shape bias_shape;
  Conv2dParams conv;              // conv only
  int64_t groups = 1;             // group norm only
  double eps = 1e-5;              // group norm only
};

class LayerTrace {
 public:
  // Installs this trace for the calling thread until destruction; traces do not nest.
  LayerTrace();
  ~LayerTrace();
  LayerTrace(const LayerTrace&) = delete;
  LayerTrace& operator=(const LayerTrace&) = delete;

  // The trace installed on this thread, or nullptr.
  static LayerTrace* active();
  void add(const TracedLayer& l) { layers_.push_back(l); }
  const std::vector<TracedLayer>& layers() const { return layers_; }
  void clear() { layers_.clear(); }

 private:
  std::vector<TracedLayer> layers_;
};

}  // namespace sp
