// Learning-rate schedules: host-side pure functions of the step index (counted from 0), evaluated once per
// step and passed to the optimiser kernel as an argument. Kinds:
//   constant       base_lr
//   step           base_lr * gamma^floor(step / step_size)                      (torch StepLR)
//   multistep      base_lr * gamma^(number of milestones <= step)               (torch MultiStepLR)
//   warmup_cosine  linear warm-up, then cosine decay from base_lr to min_lr at total_steps, min_lr after
//   linear         linear warm-up (optional), then linear decay to 0 at total_steps, 0 after
// Warm-up (every kind): step k < warmup_steps uses base_lr * (k + 1) / warmup_steps, so the first step already
// moves and step warmup_steps - 1 reaches base_lr. For constant, step and multistep the warm-up only replaces
// the first steps: step_size and milestones still count from step 0 (so the usual "1 epoch warm-up, then x0.2
// at epochs 60/120/160" recipe is warmup_steps = 1 epoch, milestones = {60, 120, 160} epochs). Tested in tests/test_schedule.cpp.
#pragma once
#include <cstdint>
#include <string_view>
#include <vector>

namespace sp {

enum class ScheduleKind : uint8_t { constant, step, multistep, warmup_cosine, linear };
std::string_view schedule_kind_name(ScheduleKind k);
ScheduleKind schedule_kind_from_name(std::string_view name);

struct ScheduleConfig {
  ScheduleKind kind = ScheduleKind::constant;
  double base_lr = 0.1;
  double gamma = 0.1;                // step, multistep
  int64_t step_size = 0;             // step
  std::vector<int64_t> milestones;   // multistep: non-decreasing (a repeated milestone applies gamma twice)
  int64_t warmup_steps = 0;          // every kind
  int64_t total_steps = 0;           // warmup_cosine, linear: end of the decay
  double min_lr = 0;                 // warmup_cosine: the floor
};

class LrSchedule {
 public:
  explicit LrSchedule(const ScheduleConfig& cfg);  // validates; throws naming the bad field
  double lr(int64_t step) const;                   // step >= 0
  const ScheduleConfig& config() const { return cfg_; }

 private:
  double warmup(int64_t step) const { return cfg_.base_lr * double(step + 1) / double(cfg_.warmup_steps); }
  double progress(int64_t step) const;  // fraction of the decay phase done, in [0, 1]
  ScheduleConfig cfg_;
};

}  // namespace sp
