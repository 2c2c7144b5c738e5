// The membership-inference protocol's data side (paper-protocol.md §1.2-1.3), all drawn from the
// experiment seed with the counter-based RNG:
//  * audit set: M samples (default 500) chosen uniformly without replacement from the N training samples
//    (indices kept in ascending order);
//  * canaries: type `mislabel` gives each audit sample a training label drawn uniformly from the C-1 other
//    classes (c ~ U{0..C-2}, label = c < y ? c : c + 1: never the true label); `clean` keeps labels. The
//    draw for a sample depends only on (seed, training index), not on M;
//  * membership for S models (default 32, even): U ~ Uniform(0,1)^[S, M]; audit sample j is IN for model k
//    iff the rank of U[k, j] within column j is < S/2, so every sample is IN for exactly S/2 models;
//  * model k's private training set: every non-audit sample with its label, plus its IN audit samples with
//    their training (canary) labels.
// Tested in tests/test_data_audit.cpp (exact S/2, never the true label, chi-square uniformity over the other
// classes and over audit choice, determinism from the seed, private set composition, bad input).
#pragma once
#include <string>
#include <vector>

#include "data/dataset.h"

namespace sp::data {

enum class CanaryType { clean, mislabel };
std::string canary_name(CanaryType t);
CanaryType parse_canary(const std::string& s);

struct AuditSet {
  std::vector<int64_t> indices;      // [M] ascending indices into the training set
  std::vector<int64_t> true_labels;  // [M] dataset labels
  std::vector<int64_t> labels;       // [M] training labels (canary labels for `mislabel`)
  CanaryType canary = CanaryType::mislabel;
  int64_t size() const { return int64_t(indices.size()); }
};

// The M audit indices for a training set of n samples (ascending); a function of (seed, n, M) only.
std::vector<int64_t> choose_audit_indices(int64_t n, int64_t num_audit, uint64_t seed);
// The mislabel canary label of training sample `index` whose true label is y (never y).
int64_t canary_label(uint64_t seed, int64_t index, int64_t y, int num_classes);

// train_labels: the dataset's labels, each in [0, num_classes).
AuditSet choose_audit_set(const std::vector<int64_t>& train_labels, int num_classes, int64_t num_audit,
                          CanaryType canary, uint64_t seed);

struct Membership {
  int num_models = 0;
  int64_t num_audit = 0;
  std::vector<uint8_t> keep;  // [S, M] row-major: keep[k * M + j] = 1 when audit sample j is IN for model k
  bool in(int k, int64_t j) const { return keep[size_t(int64_t(k) * num_audit + j)] != 0; }
  std::vector<uint8_t> row(int k) const;  // model k's keep vector [M]
};

Membership assign_membership(int64_t num_audit, int num_models, uint64_t seed);

// Labels of the whole training set as every model trains on them (audit samples carry their training label).
std::vector<int64_t> training_labels(const std::vector<int64_t>& train_labels, const AuditSet& audit);

struct TrainingSet {
  std::vector<int64_t> indices;  // ascending indices into the training set
  std::vector<int64_t> labels;   // the label each is trained with
};
// Model k's private training set D_k.
TrainingSet private_training_set(const std::vector<int64_t>& train_labels, const AuditSet& audit,
                                 const Membership& m, int k);

}  // namespace sp::data
