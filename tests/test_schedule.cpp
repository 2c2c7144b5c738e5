// LR schedules: values at chosen steps (hand-computed), boundaries, names and invalid configurations.
#include "nn/schedule.h"

#include <gtest/gtest.h>

#include "kernels/error.h"

using namespace sp;

namespace {
LrSchedule make(ScheduleKind k, auto&& fill) {
  ScheduleConfig c;
  c.kind = k;
  fill(c);
  return LrSchedule(c);
}
}  // namespace

TEST(Schedule, Constant) {
  LrSchedule s = make(ScheduleKind::constant, [](ScheduleConfig& c) { c.base_lr = 0.05; });
  EXPECT_DOUBLE_EQ(s.lr(0), 0.05);
  EXPECT_DOUBLE_EQ(s.lr(123456), 0.05);
}

TEST(Schedule, StepDecaysEveryStepSize) {
  LrSchedule s = make(ScheduleKind::step, [](ScheduleConfig& c) {
    c.base_lr = 0.1;
    c.gamma = 0.5;
    c.step_size = 3;
  });
  EXPECT_DOUBLE_EQ(s.lr(0), 0.1);
  EXPECT_DOUBLE_EQ(s.lr(2), 0.1);
  EXPECT_DOUBLE_EQ(s.lr(3), 0.05);
  EXPECT_DOUBLE_EQ(s.lr(5), 0.05);
  EXPECT_DOUBLE_EQ(s.lr(6), 0.025);
  EXPECT_DOUBLE_EQ(s.lr(10), 0.0125);
}

TEST(Schedule, MultistepAppliesGammaAtEachMilestone) {
  LrSchedule s = make(ScheduleKind::multistep, [](ScheduleConfig& c) {
    c.base_lr = 1.0;
    c.gamma = 0.1;
    c.milestones = {2, 5, 5};  // a repeated milestone decays twice, as torch's MultiStepLR
  });
  EXPECT_DOUBLE_EQ(s.lr(0), 1.0);
  EXPECT_DOUBLE_EQ(s.lr(1), 1.0);
  EXPECT_DOUBLE_EQ(s.lr(2), 0.1);
  EXPECT_DOUBLE_EQ(s.lr(4), 0.1);
  EXPECT_NEAR(s.lr(5), 1e-3, 1e-18);
  EXPECT_NEAR(s.lr(1000), 1e-3, 1e-18);
}

TEST(Schedule, WarmupThenCosineToTheFloor) {
  LrSchedule s = make(ScheduleKind::warmup_cosine, [](ScheduleConfig& c) {
    c.base_lr = 1.0;
    c.min_lr = 0.1;
    c.warmup_steps = 4;
    c.total_steps = 12;
  });
  EXPECT_DOUBLE_EQ(s.lr(0), 0.25);
  EXPECT_DOUBLE_EQ(s.lr(1), 0.5);
  EXPECT_DOUBLE_EQ(s.lr(3), 1.0);
  EXPECT_DOUBLE_EQ(s.lr(4), 1.0);  // decay starts at progress 0
  // progress 1/4: 0.1 + 0.9 * (1 + cos(pi/4)) / 2
  EXPECT_NEAR(s.lr(6), 0.8681980515339464, 1e-15);
  EXPECT_NEAR(s.lr(8), 0.55, 1e-15);  // half way
  // progress 3/4: 0.1 + 0.9 * (1 - cos(pi/4)) / 2
  EXPECT_NEAR(s.lr(10), 0.23180194846605362, 1e-15);
  EXPECT_NEAR(s.lr(12), 0.1, 1e-15);
  EXPECT_NEAR(s.lr(500), 0.1, 1e-15);
}

TEST(Schedule, CosineWithoutWarmupStartsAtBase) {
  LrSchedule s = make(ScheduleKind::warmup_cosine, [](ScheduleConfig& c) {
    c.base_lr = 0.4;
    c.total_steps = 10;
  });
  EXPECT_DOUBLE_EQ(s.lr(0), 0.4);
  EXPECT_NEAR(s.lr(5), 0.2, 1e-15);
  EXPECT_NEAR(s.lr(10), 0.0, 1e-15);
}

TEST(Schedule, LinearDecayToZero) {
  LrSchedule s = make(ScheduleKind::linear, [](ScheduleConfig& c) {
    c.base_lr = 0.2;
    c.total_steps = 10;
  });
  EXPECT_DOUBLE_EQ(s.lr(0), 0.2);
  EXPECT_NEAR(s.lr(5), 0.1, 1e-15);
  EXPECT_NEAR(s.lr(9), 0.02, 1e-15);
  EXPECT_EQ(s.lr(10), 0.0);
  EXPECT_EQ(s.lr(20), 0.0);
}

TEST(Schedule, LinearDecayAfterWarmup) {
  LrSchedule s = make(ScheduleKind::linear, [](ScheduleConfig& c) {
    c.base_lr = 0.2;
    c.warmup_steps = 2;
    c.total_steps = 12;
  });
  EXPECT_DOUBLE_EQ(s.lr(0), 0.1);
  EXPECT_DOUBLE_EQ(s.lr(1), 0.2);
  EXPECT_DOUBLE_EQ(s.lr(2), 0.2);
  EXPECT_NEAR(s.lr(7), 0.1, 1e-15);
  EXPECT_EQ(s.lr(12), 0.0);
}

TEST(Schedule, WarmupBeforeMultistep) {
  LrSchedule s = make(ScheduleKind::multistep, [](ScheduleConfig& c) {
    c.base_lr = 0.1;
    c.warmup_steps = 4;
    c.milestones = {6, 8};
    c.gamma = 0.2;
  });
  EXPECT_DOUBLE_EQ(s.lr(0), 0.025);
  EXPECT_DOUBLE_EQ(s.lr(3), 0.1);
  EXPECT_DOUBLE_EQ(s.lr(5), 0.1);
  EXPECT_NEAR(s.lr(6), 0.02, 1e-15);
  EXPECT_NEAR(s.lr(9), 0.004, 1e-15);
  LrSchedule c = make(ScheduleKind::constant, [](ScheduleConfig& c) { c.warmup_steps = 2; });
  EXPECT_DOUBLE_EQ(c.lr(0), 0.05);
  EXPECT_DOUBLE_EQ(c.lr(1), 0.1);
  EXPECT_DOUBLE_EQ(c.lr(100), 0.1);
}

TEST(Schedule, NamesRoundTrip) {
  for (ScheduleKind k : {ScheduleKind::constant, ScheduleKind::step, ScheduleKind::multistep,
                         ScheduleKind::warmup_cosine, ScheduleKind::linear})
    EXPECT_EQ(schedule_kind_from_name(schedule_kind_name(k)), k);
  EXPECT_THROW(schedule_kind_from_name("cosine_restarts"), Error);
}

TEST(Schedule, RejectsInvalidConfigurations) {
  auto bad = [](ScheduleKind k, auto&& fill) {
    ScheduleConfig c;
    c.kind = k;
    fill(c);
    EXPECT_THROW(LrSchedule{c}, Error) << schedule_kind_name(k);
  };
  bad(ScheduleKind::constant, [](ScheduleConfig& c) { c.base_lr = -1; });
  bad(ScheduleKind::step, [](ScheduleConfig& c) { c.step_size = 0; });
  bad(ScheduleKind::step, [](ScheduleConfig& c) {
    c.step_size = 2;
    c.gamma = 0;
  });
  bad(ScheduleKind::multistep, [](ScheduleConfig& c) { c.milestones = {5, 2}; });
  bad(ScheduleKind::multistep, [](ScheduleConfig& c) { c.milestones = {-1, 2}; });
  bad(ScheduleKind::step, [](ScheduleConfig& c) {
    c.step_size = 2;
    c.warmup_steps = -1;
  });
  bad(ScheduleKind::warmup_cosine, [](ScheduleConfig& c) {
    c.warmup_steps = 10;
    c.total_steps = 10;
  });
  bad(ScheduleKind::warmup_cosine, [](ScheduleConfig& c) {
    c.total_steps = 10;
    c.min_lr = 1.0;  // above base_lr 0.1
  });
  bad(ScheduleKind::linear, [](ScheduleConfig& c) { c.total_steps = 0; });
  bad(ScheduleKind::linear, [](ScheduleConfig& c) {
    c.warmup_steps = -1;
    c.total_steps = 5;
  });
  ScheduleConfig c;
  EXPECT_THROW(LrSchedule(c).lr(-1), Error);
}
