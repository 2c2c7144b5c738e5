// Per-shadow splits of the IN audit samples into two groups, assembled into the [S, M] group file of
// `sp_lira --groups` (attacks/lira_data.h). A paradigm that splits its members (coreset: selected or not;
// distillation: used as an initial image or not) writes DIR/shadow/<k>/groups.npy, int64 [M], per audit
// sample 0 (OUT), 1 (IN, first group) or 2 (IN, second group); the experiment's file gives every OUT pair a
// seeded fair coin (see experiment_groups). Tested in tests/test_coreset_shadow.cpp and
// tests/test_distill_shadow.cpp (end to end with sp_lira --groups).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/audit.h"

namespace sp {

// Group values of a shadow's groups.npy.
enum ShadowGroup : int64_t { kGroupOut = 0, kGroupFirst = 1, kGroupSecond = 2 };

// Model k's groups.npy values: per audit sample kGroupOut when OUT, kGroupFirst when its training-set index is
// in `first` (ascending), else kGroupSecond. Throws, naming `what` ("coreset", "initial images"), when `first`
// holds an audit sample that is OUT for model k.
std::vector<int64_t> shadow_groups(const data::AuditSet& audit, const data::Membership& m, int k,
                                   const std::vector<int64_t>& first, const std::string& what);

// The [S, M] group array from every DIR/shadow/<k>/groups.npy. sp_lira evaluates each group on its own
// (model, sample) pairs, so a group needs non-members too: every OUT pair joins group 1 or group 2 by a
// seeded fair coin, giving each group a random half of the non-members. Group 1's TPR at a fixed FPR is then
// the attack's power on its IN samples, group 2's on the others, each against an unbiased sample of OUT
// pairs. The coin is seeded by the experiment seed. Throws naming the file when a shadow's groups.npy is
// missing, malformed or disagrees with its keep.npy.
struct GroupArray {
  int64_t S = 0, M = 0;
  std::vector<int64_t> values;  // [S, M] row-major
};
GroupArray experiment_groups(const std::string& dir);
// Writes experiment_groups(dir) as int64 [S, M] to `path` (atomically).
GroupArray write_experiment_groups(const std::string& dir, const std::string& path);
// The end of a run: DIR/<file_name> once every shadow of the experiment has its groups.npy. Returns the path
// written, or "" while some shadow is still missing.
std::string write_groups_when_complete(const std::string& dir, int num_shadows, const std::string& file_name);

}  // namespace sp
