// ReportSchedule: progress reports (device metric reads) at most every interval, with an injected clock.
#include "paradigms/engine/report_schedule.h"

#include <gtest/gtest.h>

#include <limits>

#include "kernels/error.h"

using namespace sp;

TEST(ReportSchedule, DueOnlyAfterTheIntervalSinceTheLastReport) {
  double now = 100;
  ReportSchedule r(2.0, [&] { return now; });
  EXPECT_FALSE(r.due());
  now = 101.9;
  EXPECT_FALSE(r.due());
  now = 102.0;
  EXPECT_TRUE(r.due());
  r.mark();
  now = 103.5;
  EXPECT_FALSE(r.due()) << "counted from the report, not from the start";
  now = 104.0;
  EXPECT_TRUE(r.due());
  EXPECT_DOUBLE_EQ(r.elapsed(), 4.0);
}

TEST(ReportSchedule, StepsFasterThanTheIntervalReportOncePerInterval) {
  double now = 0;
  ReportSchedule r(2.0, [&] { return now; });
  int reports = 0;
  for (int step = 0; step < 40; ++step) {  // 0.25 s steps (exact in binary) for 10 s
    now += 0.25;
    if (r.due()) {
      ++reports;
      r.mark();
    }
  }
  EXPECT_EQ(reports, 5);
}

TEST(ReportSchedule, RejectsABadInterval) {
  EXPECT_THROW(ReportSchedule(-1), Error);
  EXPECT_THROW(ReportSchedule(std::numeric_limits<double>::quiet_NaN()), Error);
  ReportSchedule never(std::numeric_limits<double>::infinity());
  EXPECT_FALSE(never.due());
}
