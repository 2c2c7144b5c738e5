// The synthetic set's starting point (shared/reference/paper-protocol.md §2.3):
//   real   ipc random images of each class of the shadow's private set D_k, canaries included (with their
//          training, i.e. flipped, labels), as the paper and upstream's --init real do;
//   noise  independent N(0, 1) pixels in the normalised input space (upstream's default init);
//   ood    ipc random images of each class of another dataset with the same classes (the paper used
//          CINIC-10's ImageNet part: ../shared/data/cinic10-imagenet-ood.tar.gz, loaded as folder:DIR).
// Rows are class-major; each records where it came from, so a shadow knows which audit samples seeded its
// set. Choices are pure functions of (key, class). Tested in tests/test_distill.cpp.
#pragma once
#include <string>
#include <vector>

#include "data/audit.h"
#include "data/augment.h"
#include "data/dataset.h"
#include "paradigms/distill/distill_config.h"

namespace sp::distill {

struct InitialImages {
  Tensor images;                     // f32 [classes * ipc, C, H, W] on the CPU, normalised, class-major
  std::vector<int64_t> source;       // per row: training-set index (real), OOD-set index (ood), -1 (noise)
  std::vector<int64_t> audit_used;   // real: the audit positions j whose sample is a row, ascending
};

// The OOD set of spec `spec` (its training split), checked against the experiment's training set: the same
// class names in the same order, the same image geometry, and at least `ipc` images in every class. Throws
// naming the spec and the problem (with how to provide a set when the path does not exist).
data::Dataset load_ood_set(const std::string& spec, const data::Dataset& train, int64_t ipc);

// Throws naming the shadow and class when D_k (ts, training labels) has fewer than ipc images of a class.
void check_real_init(const data::TrainingSet& ts, int64_t classes, int64_t ipc, int k);

// train: the experiment's training split (pixels); ts: D_k; ood: the OOD set (init ood only).
InitialImages initial_images(const DistillConfig& cfg, const data::Dataset& train, const data::TrainingSet& ts,
                             const data::AuditSet& audit, const data::Dataset* ood, int64_t classes,
                             const data::Normalization& norm, uint64_t key);

}  // namespace sp::distill
