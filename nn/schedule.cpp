// Learning-rate schedules (see schedule.h). Tested in tests/test_schedule.cpp.
#include "nn/schedule.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "kernels/error.h"

namespace sp {

std::string_view schedule_kind_name(ScheduleKind k) {
  switch (k) {
    case ScheduleKind::constant: return "constant";
    case ScheduleKind::step: return "step";
    case ScheduleKind::multistep: return "multistep";
    case ScheduleKind::warmup_cosine: return "warmup_cosine";
    case ScheduleKind::linear: return "linear";
  }
  return "?";
}

ScheduleKind schedule_kind_from_name(std::string_view name) {
  for (ScheduleKind k : {ScheduleKind::constant, ScheduleKind::step, ScheduleKind::multistep,
                         ScheduleKind::warmup_cosine, ScheduleKind::linear})
    if (schedule_kind_name(k) == name) return k;
  SP_FAIL("unknown LR schedule '", name, "' (expected constant, step, multistep, warmup_cosine or linear)");
}

LrSchedule::LrSchedule(const ScheduleConfig& cfg) : cfg_(cfg) {
  std::string_view kind = schedule_kind_name(cfg.kind);
  SP_CHECK(std::isfinite(cfg.base_lr) && cfg.base_lr >= 0, "LR schedule ", kind, ": base_lr ", cfg.base_lr,
           " must be finite and >= 0");
  SP_CHECK(cfg.warmup_steps >= 0, "LR schedule ", kind, ": warmup_steps ", cfg.warmup_steps, " must be >= 0");
  switch (cfg.kind) {
    case ScheduleKind::constant: break;
    case ScheduleKind::step:
      SP_CHECK(cfg.step_size > 0, "LR schedule step: step_size ", cfg.step_size, " must be > 0");
      SP_CHECK(std::isfinite(cfg.gamma) && cfg.gamma > 0, "LR schedule step: gamma ", cfg.gamma, " must be > 0");
      break;
    case ScheduleKind::multistep:
      SP_CHECK(std::isfinite(cfg.gamma) && cfg.gamma > 0, "LR schedule multistep: gamma ", cfg.gamma,
               " must be > 0");
      SP_CHECK(std::is_sorted(cfg.milestones.begin(), cfg.milestones.end()),
               "LR schedule multistep: milestones must be non-decreasing");
      SP_CHECK(cfg.milestones.empty() || cfg.milestones.front() >= 0,
               "LR schedule multistep: milestones must be >= 0");
      break;
    case ScheduleKind::warmup_cosine:
    case ScheduleKind::linear:
      SP_CHECK(cfg.total_steps > cfg.warmup_steps, "LR schedule ", kind, ": total_steps ", cfg.total_steps,
               " must exceed warmup_steps ", cfg.warmup_steps);
      if (cfg.kind == ScheduleKind::warmup_cosine)
        SP_CHECK(std::isfinite(cfg.min_lr) && cfg.min_lr >= 0 && cfg.min_lr <= cfg.base_lr,
                 "LR schedule warmup_cosine: min_lr ", cfg.min_lr, " must lie in [0, base_lr = ", cfg.base_lr, "]");
      break;
  }
}

double LrSchedule::progress(int64_t step) const {
  double p = double(step - cfg_.warmup_steps) / double(cfg_.total_steps - cfg_.warmup_steps);
  return std::clamp(p, 0.0, 1.0);
}

double LrSchedule::lr(int64_t step) const {
  SP_CHECK(step >= 0, "LR schedule ", schedule_kind_name(cfg_.kind), ": negative step ", step);
  if (step < cfg_.warmup_steps) return warmup(step);
  switch (cfg_.kind) {
    case ScheduleKind::constant: return cfg_.base_lr;
    case ScheduleKind::step: return cfg_.base_lr * std::pow(cfg_.gamma, double(step / cfg_.step_size));
    case ScheduleKind::multistep: {
      auto passed = std::upper_bound(cfg_.milestones.begin(), cfg_.milestones.end(), step) - cfg_.milestones.begin();
      return cfg_.base_lr * std::pow(cfg_.gamma, double(passed));
    }
    case ScheduleKind::warmup_cosine: {
      double c = 0.5 * (1.0 + std::cos(std::numbers::pi * progress(step)));
      return cfg_.min_lr + (cfg_.base_lr - cfg_.min_lr) * c;
    }
    case ScheduleKind::linear:
      return cfg_.base_lr * (1.0 - progress(step));
  }
  return cfg_.base_lr;
}

}  // namespace sp
