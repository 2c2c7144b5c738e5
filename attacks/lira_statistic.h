// The LiRA statistic for the host tools: the per-row formula lives in kernels/lira_stat_math.h (shared with
// the fused CPU/CUDA kernel of kernels/lira_stat.h, so sp_lira and sp_train compute phi identically); this
// header adds the statistic's names for configs and command lines. Tested in tests/test_lira_stats.cpp.
#pragma once
#include <string_view>

#include "kernels/error.h"
#include "kernels/lira_stat_math.h"

namespace sp::lira {

inline std::string_view statistic_name(Statistic s) { return s == Statistic::logit ? "logit" : "hinge"; }
inline Statistic statistic_from_name(std::string_view n) {
  if (n == "logit") return Statistic::logit;
  if (n == "hinge") return Statistic::hinge;
  SP_FAIL("unknown LiRA statistic '", n, "' (expected logit or hinge)");
}

}  // namespace sp::lira
