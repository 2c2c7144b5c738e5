// Privacy-utility-cost scatter plot (see tradeoff_plot.h).
#include "paradigms/audit/tradeoff_plot.h"

#include <algorithm>
#include <cmath>

#include "plot/write_figure.h"

namespace sp::audit {

double disc_radius(double seconds, double max_seconds) {
  const double rmin = 5, rmax = 28;
  if (!(max_seconds > 0) || !(seconds > 0)) return rmin;
  return std::max(rmin, rmax * std::sqrt(std::min(1.0, seconds / max_seconds)));  // area proportional to time
}

plot::Figure tradeoff_figure(const std::vector<TradeoffPoint>& pts, const std::string& title) {
  plot::Figure f;
  f.width = 960;
  f.height = 680;
  f.title = title;
  f.subtitle = "disc area: training time per model";
  f.x = {"test accuracy (mean over shadow models)", plot::Scale::linear, 0, 1, plot::TickStyle::percent};
  // Half a floor of room below the random-guess line, so it and the discs sitting on it are not hidden by
  // the frame.
  f.y = {"TPR at 0.1% FPR (best attack)", plot::Scale::log, kTradeoffTprFloor / 2, 1, plot::TickStyle::percent};
  if (!pts.empty()) {
    double lo = 1, hi = 0;
    for (const TradeoffPoint& p : pts) lo = std::min(lo, p.accuracy), hi = std::max(hi, p.accuracy);
    // Room for the discs at the ends, then out to whole 5% steps.
    const double pad = std::max(0.02, 0.1 * (hi - lo));
    f.x.min = std::max(0.0, std::floor((lo - pad) * 20) / 20);
    f.x.max = std::min(1.0, std::ceil((hi + pad) * 20) / 20);
    if (f.x.max <= f.x.min) f.x.max = std::min(1.0, f.x.min + 0.05), f.x.min = f.x.max - 0.05;
  }
  double max_s = 0;
  for (const TradeoffPoint& p : pts) max_s = std::max(max_s, p.seconds);
  for (size_t k = 0; k < pts.size(); ++k) {
    const TradeoffPoint& p = pts[k];
    f.discs.push_back({p.accuracy, std::max(p.tpr, kTradeoffTprFloor), disc_radius(p.seconds, max_s),
                       plot::palette(k), p.label});
  }
  plot::Line chance;
  chance.label = "random guess (TPR 0.1%)";
  chance.x = {f.x.min, f.x.max};
  chance.y = {kTradeoffTprFloor, kTradeoffTprFloor};
  chance.color = plot::kGrey;
  chance.style = plot::LineStyle::dashed;
  f.lines.push_back(std::move(chance));
  return f;
}

std::vector<std::string> write_tradeoff_plot(const std::string& stem, const std::vector<TradeoffPoint>& pts,
                                             const std::string& title) {
  return plot::write_figure(tradeoff_figure(pts, title), stem);
}

}  // namespace sp::audit
