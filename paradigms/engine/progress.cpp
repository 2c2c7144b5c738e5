// Progress bar and plain progress lines (see progress.h).
#include "paradigms/engine/progress.h"

#include <unistd.h>

#include <cmath>

namespace sp {

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  long long s = std::llround(seconds);
  char buf[32];
  if (s < 60)
    std::snprintf(buf, sizeof buf, "%llds", s);
  else if (s < 3600)
    std::snprintf(buf, sizeof buf, "%lldm%02llds", s / 60, s % 60);
  else
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", s / 3600, (s % 3600) / 60);
  return buf;
}

std::string format_rate(double r) {
  char buf[32];
  if (r < 1e4)
    std::snprintf(buf, sizeof buf, "%.0f", r);
  else if (r < 1e6)
    std::snprintf(buf, sizeof buf, "%.1fk", r / 1e3);
  else
    std::snprintf(buf, sizeof buf, "%.2fM", r / 1e6);
  return buf;
}

ProgressPrinter::ProgressPrinter(bool terminal, double plain_interval_s)
    : terminal_(terminal), plain_interval_s_(plain_interval_s) {}

bool ProgressPrinter::stderr_is_terminal() { return ::isatty(STDERR_FILENO) == 1; }

void ProgressPrinter::update(const TrainProgress& p) {
  char stats[160];
  std::snprintf(stats, sizeof stats, "%lld/%lld loss %.4f acc %.1f%% %s img/s ETA %s", (long long)p.step,
                (long long)p.steps, p.loss, 100 * p.accuracy, format_rate(p.images_per_s).c_str(),
                format_duration(p.eta_s).c_str());
  std::string head = prefix_ + (prefix_.empty() ? "" : " ") + "epoch " + std::to_string(p.epoch + 1) + "/" +
                     std::to_string(p.epochs);
  if (terminal_) {
    constexpr int kWidth = 20;
    int filled = p.steps > 0 ? int(kWidth * p.step / p.steps) : 0;
    std::string bar = "[" + std::string(size_t(filled), '#') + std::string(size_t(kWidth - filled), '-') + "]";
    std::fprintf(stderr, "\r\033[K%s %s %s", head.c_str(), bar.c_str(), stats);
    std::fflush(stderr);
    bar_shown_ = true;
  } else if (p.step < p.steps) {  // the end of an epoch gets its own summary line
    std::printf("%s step %s\n", head.c_str(), stats);
    std::fflush(stdout);
  }
}

void ProgressPrinter::clear() {
  if (terminal_ && bar_shown_) {
    std::fprintf(stderr, "\r\033[K");
    std::fflush(stderr);
    bar_shown_ = false;
  }
}

void ProgressPrinter::line(const std::string& text) {
  clear();
  std::printf("%s\n", text.c_str());
  std::fflush(stdout);
}

}  // namespace sp
