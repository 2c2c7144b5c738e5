// Synthetic LiRA experiments for tests and benchmarks, written in either on-disk layout. Each sample has
// a difficulty (its typical margin) and a vulnerability (how much training on it raises the margin);
// each model adds its own noise per sample, each query a little more. The logits are built so that phi
// equals the drawn margin exactly: wrong-class logits are random and z_y = phi + logsumexp_{j != y} z_j.
// Every sample is IN for exactly floor(S/2) models (the tensorflow-privacy scheme); optional population
// samples are IN for none. Used by
// tools/sp_lira_synth.cpp and tests/test_lira_cli.cpp.
#pragma once
#include <cstdint>
#include <string>

#include "attacks/lira_data.h"

namespace sp::lira {

struct SynthOptions {
  int64_t S = 32, M = 50000, A = 18, C = 10;
  uint64_t seed = 1;
  Layout layout = Layout::synpriv;
  double gain = 1.0;  // mean vulnerability (margin increase when trained on); 0: no signal
  // Population samples (synpriv layout only): drawn like the audit samples but trained on by no model,
  // written to population/labels.npy and shadow/<k>/population_logits.npy for RMIA.
  int64_t P = 0;
  int threads = 0;
};

void write_synthetic_experiment(const std::string& dir, const SynthOptions& opt);

}  // namespace sp::lira
