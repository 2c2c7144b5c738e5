// Training metrics that stay on the device: acc (f64 [2]) += (loss * N, number of rows whose argmax equals
// the label), so a training loop reads loss and accuracy once per epoch instead of synchronising each step.
// Tested in tests/test_metrics.cpp and tests/gpu/test_metrics_gpu.cpp.
#pragma once
#include "kernels/registry.h"
#include "kernels/tensor.h"

namespace sp {

// acc: f64 [2] (sum of per-sample loss, correct count); loss: floating scalar (the batch mean); logits
// [N, C] f32/f64; labels i64 [N]. All on the stream's device.
using AccumulateMetricsFn = void(Stream&, const Tensor& acc, const Tensor& loss, const Tensor& logits,
                                 const Tensor& labels);
extern Kernel<AccumulateMetricsFn> k_accumulate_metrics;

void accumulate_metrics(Stream& s, const Tensor& acc, const Tensor& loss, const Tensor& logits, const Tensor& labels);

}  // namespace sp
