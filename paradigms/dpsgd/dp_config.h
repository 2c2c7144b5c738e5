// The "dpsgd" section of an experiment configuration (paradigm "dpsgd", paradigms/config.h) and the plan it
// gives for a training set of N examples:
//
//   "paradigm": "dpsgd",
//   "model": {"name": "wrn16_4"},                 // group norm: wrn16_4 or resnet18_gn (batch norm refused)
//   "recipe": {"epochs": 200, "batch_size": 2048, ...},   // batch_size: the EXPECTED logical batch qN
//   "dpsgd": {
//     "clip_norm": 1.0,              // C: flat clipping of each example's gradient to norm <= C
//     "noise_multiplier": 0.2,       // sigma (noise std sigma * C), or instead
//     "target_epsilon": 8,           //   the epsilon sigma is calibrated for (steps, q and delta known)
//     "delta": 1e-5,
//     "accountant": "rdp",           // rdp (Opacus's RDP, the [C24] setting) | prv (PRV upper bound)
//     "augmult": 8,                  // K augmented copies per example, gradients averaged before clipping
//     "physical_batch": 64,          // examples per forward/backward (memory bound); K * this images
//     "ema_decay": 0.9999            // parameter EMA with decay min(ema_decay, (1+t)/(10+t)); 0: off
//   }
//
// Sampling: Poisson with q = batch_size / N, floor(1/q) logical steps per epoch, steps = epochs * that.
// Tested in tests/test_dpsgd_config.cpp.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "paradigms/json_fields.h"

namespace sp {
struct RunConfig;
}

namespace sp::dpsgd {

struct DpsgdSettings {
  double clip_norm = 1.0;
  double noise_multiplier = 0;  // > 0 when given; 0 when calibrated from target_epsilon
  double target_epsilon = 0;    // > 0 when given
  double delta = 1e-5;
  std::string accountant = "rdp";
  int64_t augmult = 1;
  int64_t physical_batch = 256;
  double ema_decay = 0;  // 0: no EMA
};

// What a run of `epochs` epochs over N examples with expected batch B does and guarantees.
struct DpPlan {
  int64_t train_size = 0;       // N
  double sample_rate = 0;       // q = B / N
  int64_t steps_per_epoch = 0;  // floor(1 / q)
  int64_t steps = 0;            // epochs * steps_per_epoch
  double noise_multiplier = 0;  // sigma (given or calibrated)
  bool calibrated = false;
  double epsilon = 0;           // from the accountant at (q, sigma, steps, delta)
  std::string note;             // the RDP accountant's warning when its optimal order sits at the grid's edge
  double expected_batch() const { return sample_rate * double(train_size); }
};

// Reads root's "dpsgd" section into c.paradigm_settings (a DpsgdSettings; called through the dpsgd paradigm's
// read_config) and marks epochs as floor(N / B) steps; problems are added
// to `errors` naming their key path. Also refuses batch-norm models ("model.name") and, when the training set
// size is known from the configuration, checks q and the reachability of target_epsilon early.
void read_dpsgd_config(cfg::Fields& root, RunConfig& c, cfg::Errors& errors, nlohmann::json& out);

// Plans a run; throws sp::Error naming the configuration key at fault (recipe.batch_size for q outside
// (0, 1], recipe.epochs for no step, dpsgd.target_epsilon for an unreachable target, ...).
DpPlan plan_dpsgd(const DpsgdSettings& d, int64_t train_size, int64_t expected_batch, int epochs);

// epsilon of `steps` steps at (q, sigma, delta) with the named accountant ("rdp" or "prv").
double dp_epsilon(const std::string& accountant, double q, double sigma, int64_t steps, double delta);

// The metrics.json record of a plan: epsilon, delta, sigma, C, q, steps, K and the accountant.
nlohmann::json plan_json(const DpsgdSettings& d, const DpPlan& p);

}  // namespace sp::dpsgd
