// One DFKD shadow model (shared/reference/paper-protocol.md §2.4, round2-methods.md §6.4): teacher k
// (teacher.h) is inverted by the synthesizer once per epoch, each batch joins the memory bank, and after the
// warm-up the student (the audited model, initialised from the shadow's seed) trains on the bank with
// T^2 * KL(softmax(teacher / T) || softmax(student / T)) (T = 20) on crop+flip augmented batches, SGD with the
// recipe's settings and a per-epoch cosine learning rate (CosineAnnealingLR stepped after each student epoch).
// The student's best test-accuracy epoch is kept, as the reference does (it selects on test data; the report
// says so). Shadow outputs beyond the engine's: bank/epoch_NNNN.npy, bank.png (the bank by teacher label),
// generator.safetensors, logit_distances.json (paper Fig. 9: per audit sample and per clean training image, the
// distance in the teacher's logit space to the nearest generated image), and metrics.json "dfkd" (per-phase
// seconds, teacher and student accuracy, distance medians). Tested in tests/test_dfkd_shadow.cpp.
#pragma once
#include <memory>

#include "paradigms/dfkd/dfkd_config.h"
#include "paradigms/engine/shadow_job.h"

namespace sp::dfkd {

std::unique_ptr<ShadowJob> prepare_dfkd_shadow(const ExperimentRun& run, int k, const DfkdConfig& c,
                                               const data::TrainingSet& ts, Stream& s, ProgressPrinter* progress);

// The student's learning rate in epoch `epoch` (>= warmup): CosineAnnealingLR(T_max, eta_min) after
// epoch - warmup scheduler steps (PyTorch's closed form; it rises again past T_max, as upstream's does).
double student_lr(const DfkdConfig& c, double base_lr, int epoch);

}  // namespace sp::dfkd
