// The "dfkd" configuration section (data-free knowledge distillation, shared/reference/paper-protocol.md §2.4
// and round2-methods.md §6). The audited model is the student: the top-level "model" and "recipe" are its
// (architecture, epochs, batch, SGD settings, crop/flip of the memory bank); its learning rate follows the
// reference's per-epoch cosine after the warm-up, so recipe.schedule must stay "constant".
//
//   "dfkd": {
//     "method": "bn" | "fast",          // bn: the predecessor's recipe (BN-statistics loss only, persistent
//                                       // generator); fast: Fast (adv + one-hot terms, meta-learned generator)
//     "teacher": {"experiment": "runs/baseline"}   // an existing experiment whose shadow k is teacher k
//                                                  // (missing shadows are trained there first), or
//                {"model": {...}, "recipe": {...}} // teachers trained as a baseline under OUT/teacher
//     "warmup": 20,                     // epochs of synthesis only
//     "student_passes": 5,              // student passes over the whole bank per epoch (bn), or
//     "kd_steps": 0,                    // a fixed number of student steps per epoch (fast: 400)
//     "temperature": 20, "cosine_t_max": 200, "eta_min": 2e-4, "keep_best": true,
//     "generator": {"latent": 256, "width": 64},
//     "synthesis": {"batch": 256, "g_steps": 2, "lr_g": 5e-3, "lr_z": 0.015, "bn": 1, "oh": 0, "adv": 0,
//                   "bn_momentum": 0.9, "reset_epoch": 120, "crop_pad": 4, "flip": true},
//     "distances": {"clean_samples": 500}   // clean training images in the logit-distance comparison
//   }
//
// Tested in tests/test_dfkd_config.cpp.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "paradigms/config.h"
#include "paradigms/json_fields.h"

namespace sp::dfkd {

enum class Method { bn, fast };

struct SynthesisConfig {
  int64_t batch = 256;
  int64_t g_steps = 2;
  double lr_g = 5e-3, lr_z = 0.015;
  double bn_weight = 1, oh_weight = 0, adv_weight = 0;
  double bn_momentum = 0.9;
  bool meta = false;         // fast: first-order MAML over a meta-generator
  int64_t reset_epoch = 0;   // fast: re-initialise the first layer after this many epochs past the warm-up (0: never)
  int32_t crop_pad = 4;
  bool flip = true;
};

struct DfkdConfig {
  Method method = Method::bn;
  std::string teacher_experiment;  // "" when the teachers are trained under OUT/teacher
  nlohmann::json teacher_model, teacher_recipe;  // the baseline settings of OUT/teacher
  int64_t warmup = 20;
  int64_t student_passes = 5, kd_steps = 0;
  double temperature = 20;
  int64_t cosine_t_max = 200;
  double eta_min = 2e-4;
  bool keep_best = true;
  int64_t latent = 256, width = 64;
  SynthesisConfig synthesis;
  int64_t clean_samples = 500;
};

std::string method_name(Method m);

// Reads root["dfkd"] into c (problems into `errors` under their key paths); `out` gets the resolved section.
// `run` and `root_out`: the configuration read so far and its resolved form (epochs and the student's schedule
// are checked against it; the teacher's settings are validated with its dataset and audit).
void read_dfkd(cfg::Fields& root, const RunConfig& run, const nlohmann::json& root_out, DfkdConfig& c,
               cfg::Errors& errors, nlohmann::json& out);

// The configuration of the teachers when they are trained under OUT/teacher: `student`'s dataset, seed,
// shadows and audit with the teacher's model and recipe, as paradigm "baseline". Throws sp::Error listing the
// problems of the teacher's settings (key paths under dfkd.teacher).
RunConfig teacher_run_config(const RunConfig& student, const DfkdConfig& c);

}  // namespace sp::dfkd
