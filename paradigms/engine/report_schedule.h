// When the training loop may read its device metrics for a progress report. Reading them drains the stream
// (the one host synchronisation of a step), so a report is due only once `interval_s` seconds have passed
// since the last one (or since the schedule started), whatever the caller's own redraw rate. The clock is
// injected so tests/test_report_schedule.cpp checks the policy without sleeping.
#pragma once
#include <functional>

namespace sp {

// Seconds on a monotonic clock.
double monotonic_seconds();

class ReportSchedule {
 public:
  using Clock = std::function<double()>;
  explicit ReportSchedule(double interval_s, Clock clock = monotonic_seconds);
  bool due() const;  // at least interval_s since the last mark (or construction)
  void mark();       // a report was made now
  double elapsed() const;  // seconds since construction

 private:
  double interval_s_;
  Clock clock_;
  double start_, last_;
};

}  // namespace sp
