// Audit samples, canaries and membership (see audit.h).
#include "data/audit.h"

#include <algorithm>
#include <numeric>

#include "kernels/counter_rng.h"
#include "kernels/error.h"

namespace sp::data {
namespace {
constexpr uint64_t kPurposeAudit = 0x4155444954000000ull;       // "AUDIT"
constexpr uint64_t kPurposeCanary = 0x43414e4152590000ull;      // "CANARY"
constexpr uint64_t kPurposeMembership = 0x4d454d4245520000ull;  // "MEMBER"
}  // namespace

std::string canary_name(CanaryType t) { return t == CanaryType::clean ? "clean" : "mislabel"; }

CanaryType parse_canary(const std::string& s) {
  if (s == "clean") return CanaryType::clean;
  if (s == "mislabel") return CanaryType::mislabel;
  SP_FAIL("unknown canary type '", s, "' (clean, mislabel)");
}

std::vector<int64_t> choose_audit_indices(int64_t n, int64_t num_audit, uint64_t seed) {
  SP_CHECK(num_audit >= 1 && num_audit <= n, "audit set: ", num_audit, " audit samples from a training set of ", n);
  // Partial Fisher-Yates: the first M entries of a uniformly random permutation.
  std::vector<int64_t> perm(static_cast<size_t>(n));
  std::iota(perm.begin(), perm.end(), 0);
  crng::Stream32 pick(crng::derive_key(seed, kPurposeAudit), 0);
  for (int64_t i = 0; i < num_audit; ++i) {
    int64_t j = i + int64_t(pick.below64(uint64_t(n - i)));
    std::swap(perm[size_t(i)], perm[size_t(j)]);
  }
  perm.resize(size_t(num_audit));
  std::sort(perm.begin(), perm.end());
  return perm;
}

int64_t canary_label(uint64_t seed, int64_t index, int64_t y, int num_classes) {
  SP_CHECK(num_classes >= 2 && y >= 0 && y < num_classes, "canary_label: label ", y, " with ", num_classes,
           " classes (mislabel canaries need at least 2)");
  crng::Stream32 r(crng::derive_key(seed, kPurposeCanary), uint64_t(index));
  int64_t c = int64_t(r.below(uint32_t(num_classes - 1)));
  return c < y ? c : c + 1;
}

AuditSet choose_audit_set(const std::vector<int64_t>& train_labels, int num_classes, int64_t num_audit,
                          CanaryType canary, uint64_t seed) {
  int64_t n = int64_t(train_labels.size());
  SP_CHECK(num_classes >= 2 || canary == CanaryType::clean, "audit set: mislabel canaries need at least 2 classes, got ",
           num_classes);
  for (int64_t i = 0; i < n; ++i)
    SP_CHECK(train_labels[size_t(i)] >= 0 && train_labels[size_t(i)] < num_classes, "audit set: training label ",
             train_labels[size_t(i)], " of sample ", i, " out of range [0, ", num_classes, ")");
  AuditSet a;
  a.canary = canary;
  a.indices = choose_audit_indices(n, num_audit, seed);
  for (int64_t idx : a.indices) {
    int64_t y = train_labels[size_t(idx)];
    a.true_labels.push_back(y);
    a.labels.push_back(canary == CanaryType::clean ? y : canary_label(seed, idx, y, num_classes));
  }
  return a;
}

std::vector<uint8_t> Membership::row(int k) const {
  SP_CHECK(k >= 0 && k < num_models, "membership: model ", k, " out of range [0, ", num_models, ")");
  return std::vector<uint8_t>(keep.begin() + int64_t(k) * num_audit, keep.begin() + int64_t(k + 1) * num_audit);
}

Membership assign_membership(int64_t num_audit, int num_models, uint64_t seed) {
  SP_CHECK(num_models >= 2 && num_models % 2 == 0, "membership: the number of models must be even and >= 2, got ",
           num_models);
  SP_CHECK(num_audit >= 1, "membership: needs at least one audit sample, got ", num_audit);
  Membership m;
  m.num_models = num_models;
  m.num_audit = num_audit;
  m.keep.assign(size_t(int64_t(num_models) * num_audit), 0);
  uint64_t key = crng::derive_key(seed, kPurposeMembership);
  std::vector<std::pair<double, int>> col(static_cast<size_t>(num_models));
  for (int64_t j = 0; j < num_audit; ++j) {
    crng::Stream32 r(key, uint64_t(j));  // column j of U: U[0, j], ..., U[S-1, j]
    for (int k = 0; k < num_models; ++k) col[size_t(k)] = {r.uniform_d(), k};
    std::sort(col.begin(), col.end());  // argsort along the model axis; ties (never seen) broken by model index
    for (int r2 = 0; r2 < num_models / 2; ++r2) m.keep[size_t(int64_t(col[size_t(r2)].second) * num_audit + j)] = 1;
  }
  return m;
}

std::vector<int64_t> training_labels(const std::vector<int64_t>& train_labels, const AuditSet& audit) {
  std::vector<int64_t> out = train_labels;
  for (int64_t j = 0; j < audit.size(); ++j) {
    int64_t idx = audit.indices[size_t(j)];
    SP_CHECK(idx >= 0 && idx < int64_t(out.size()) && train_labels[size_t(idx)] == audit.true_labels[size_t(j)],
             "training_labels: audit sample ", j, " (index ", idx, ") does not match this training set");
    out[size_t(idx)] = audit.labels[size_t(j)];
  }
  return out;
}

TrainingSet private_training_set(const std::vector<int64_t>& train_labels, const AuditSet& audit, const Membership& m,
                                 int k) {
  SP_CHECK(m.num_audit == audit.size(), "private_training_set: membership for ", m.num_audit, " audit samples, audit set has ",
           audit.size());
  SP_CHECK(k >= 0 && k < m.num_models, "private_training_set: model ", k, " out of range [0, ", m.num_models, ")");
  std::vector<int64_t> labels = training_labels(train_labels, audit);
  std::vector<int8_t> state(train_labels.size(), 1);  // 1 = always in, 0 = audit OUT, 2 = audit IN
  for (int64_t j = 0; j < audit.size(); ++j) state[size_t(audit.indices[size_t(j)])] = m.in(k, j) ? 2 : 0;
  TrainingSet t;
  for (size_t i = 0; i < state.size(); ++i)
    if (state[i]) {
      t.indices.push_back(int64_t(i));
      t.labels.push_back(labels[i]);
    }
  return t;
}

}  // namespace sp::data
