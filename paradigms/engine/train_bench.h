// Throughput of the training path on synthetic data (sp_train --bench): images per second of full training
// steps (augmentation, forward, backward, metrics, fused optimiser step) at each requested batch size, and of
// the 18-view LiRA query pass (eval mode). Random uint8 images and labels are resident on the device like a
// real dataset; warm-up steps (cuDNN algorithm search, allocator growth) run before the timed ones, and each
// timing ends with a device synchronisation. Tested in tests/test_sp_train.cpp (a tiny CPU run of
// sp_train --bench).
#pragma once
#include <string>
#include <vector>

#include "nn/model.h"
#include "nn/precision.h"
#include "paradigms/engine/train_loop.h"

namespace sp {

struct BenchOptions {
  ModelConfig model;                      // default: ResNet-18 width 64, 10 classes
  Precision precision = Precision::automatic;  // resolved for the stream, which it sets (nn/precision.h)
  std::vector<int64_t> batches = {512, 128};
  int steps = 20;                         // timed steps (query blocks) per row
  int warmup_steps = 3;
  int64_t eval_batch = 1008;              // images per query forward (eval_batch / 18 samples x 18 views)
  // The training rows' execution (CUDA graphs: captured within the warm-up steps when graph_warmup_steps is
  // smaller, so the timed steps replay).
  TrainExecution execution;
};

// Kernels dispatched through the registry on the bench's backend and, on a GPU, kernels of ours launched.
struct WorkCounts {
  uint64_t dispatches = 0, launches = 0;
  WorkCounts operator-(const WorkCounts& o) const { return {dispatches - o.dispatches, launches - o.launches}; }
};

struct BenchRow {
  std::string phase;  // "train" or "query (18 views)"
  int64_t batch = 0;  // images per step
  int64_t images = 0; // images timed
  double seconds = 0;
  // Process CPU time over the same span: on a loaded machine the one-thread comparison that the load disturbs
  // least (wall time counts the time other processes held the core).
  double cpu_seconds = 0;
  WorkCounts work;    // over the timed steps
  double images_per_s() const { return seconds > 0 ? double(images) / seconds : 0; }
};

std::vector<BenchRow> run_train_bench(const BenchOptions& opt, Stream& s);
// n deterministic random uint8 images and labels shaped for `mc`, on s's device (the data of the benchmarks;
// also used by the DP-SGD one, paradigms/dpsgd/dp_bench.h).
DeviceData bench_synthetic_data(int64_t n, const ModelConfig& mc, Stream& s);
std::string format_bench_table(const BenchOptions& opt, const std::vector<BenchRow>& rows, const Stream& s);

}  // namespace sp
