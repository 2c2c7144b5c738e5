// sp_train --bench-dpsgd: the cost of privacy per step. Times a DP-SGD logical step (augmentation, per-example
// gradients, flat clipping, clipped sum, noise, optimiser step) over a fixed batch that is one physical batch,
// and a non-private Trainer step of the same model over as many images (batch x K), on synthetic data
// resident on the device; prints both and their ratio (target on a GPU: <= 2x; Opacus's per-sample hooks
// cost ~4.4x). Warm-up steps come first and each timing ends with a device synchronisation. Tested by
// tests/test_sp_train_dpsgd.cpp (a tiny CPU run through sp_train).
#pragma once
#include <string>

#include "nn/model.h"

namespace sp::dpsgd {

struct DpBenchOptions {
  ModelConfig model;      // default: WRN-16-4, width 64
  int64_t batch = 256;    // examples per step (one physical batch)
  int64_t augmult = 1;    // K: the DP step processes K * batch images
  int steps = 20;
  int warmup_steps = 3;
  DpBenchOptions() { model.name = "wrn16_4"; }
};

struct DpBenchResult {
  double plain_ms = 0;  // per non-private step of `batch` images
  double dp_ms = 0;     // per DP-SGD step of `batch` examples (K * batch images)
  double ratio() const { return plain_ms > 0 ? dp_ms / plain_ms : 0; }
};

DpBenchResult run_dpsgd_bench(const DpBenchOptions& opt, Stream& s);
std::string format_dpsgd_bench(const DpBenchOptions& opt, const DpBenchResult& r, const Stream& s);

}  // namespace sp::dpsgd
