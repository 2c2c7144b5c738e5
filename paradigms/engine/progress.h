// Training progress for people: on a terminal a one-line bar on stderr redrawn in place
// ("shadow 3 epoch 5/200 [#####-----] 120/195 loss 1.234 acc 56.7% 12.3k img/s ETA 1h02m"); otherwise (a log
// file, a pipe) plain lines on stdout at most every `plain_interval_s` seconds, so logs stay short. Permanent
// lines (epoch summaries, notices) go through line(), which first clears the bar. Tested in
// tests/test_sp_train.cpp (formatting helpers, plain lines in sp_train's output).
#pragma once
#include <cstdio>
#include <string>

#include "paradigms/engine/train_loop.h"

namespace sp {

std::string format_duration(double seconds);  // "45s", "3m05s", "1h02m"
std::string format_rate(double per_s);        // "850", "12.3k", "1.25M"

class ProgressPrinter {
 public:
  // terminal: draw a bar on stderr; otherwise plain lines on stdout.
  ProgressPrinter(bool terminal, double plain_interval_s);
  static bool stderr_is_terminal();

  // How often the Trainer should call update(). The Trainer itself reads its device metrics no more often
  // than TrainExecution::progress_sync_s (default 2 s), so a terminal bar redraws at that pace.
  double update_interval_s() const { return terminal_ ? 0.25 : plain_interval_s_; }
  void set_prefix(std::string prefix) { prefix_ = std::move(prefix); }
  void update(const TrainProgress& p);
  void line(const std::string& text);  // a permanent line on stdout
  void clear();                        // removes the bar (terminal)

 private:
  bool terminal_;
  double plain_interval_s_;
  std::string prefix_;
  bool bar_shown_ = false;
};

}  // namespace sp
