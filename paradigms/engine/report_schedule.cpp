// ReportSchedule (see report_schedule.h). Tested in tests/test_report_schedule.cpp.
#include "paradigms/engine/report_schedule.h"

#include <chrono>
#include <cmath>

#include "kernels/error.h"

namespace sp {

double monotonic_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

ReportSchedule::ReportSchedule(double interval_s, Clock clock) : interval_s_(interval_s), clock_(std::move(clock)) {
  SP_CHECK(!std::isnan(interval_s) && interval_s >= 0, "ReportSchedule: interval ", interval_s, " must be >= 0");
  start_ = last_ = clock_();
}

bool ReportSchedule::due() const { return clock_() - last_ >= interval_s_; }

void ReportSchedule::mark() { last_ = clock_(); }

double ReportSchedule::elapsed() const { return clock_() - start_; }

}  // namespace sp
