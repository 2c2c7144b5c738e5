// The privacy-utility-cost scatter plot of `sp_audit --compare` (the paper's Figure 1 view; tradeoff.png and
// tradeoff.svg): test accuracy on x (linear, in %), TPR at 0.1% FPR on y (log scale from the 0.1% of a random
// guess to 100%, the random-guess level drawn dashed), one disc per experiment whose area is proportional to
// its training time per model, labelled with its setting. Drawn by plot/. Tested in
// tests/test_sp_audit_report.cpp (axis ranges, discs where the axes say and sized by time, labels in the SVG).
#pragma once
#include <string>
#include <vector>

#include "plot/figure.h"

namespace sp::audit {

struct TradeoffPoint {
  std::string label;
  double accuracy = 0;  // in [0, 1]
  double tpr = 0;       // TPR at 0.1% FPR, in [0, 1]; values below 1e-3 are drawn at the axis floor
  double seconds = 0;   // training time per model
};

inline constexpr double kTradeoffTprFloor = 1e-3;  // a random guess's TPR at 0.1% FPR: the y axis' bottom

// Disc radius in pixels for a training time, given the largest time among the points.
double disc_radius(double seconds, double max_seconds);

// Accuracy range fitted to the points (multiples of 5%, within [0, 1]); the y axis from just below the floor
// to 100%.
plot::Figure tradeoff_figure(const std::vector<TradeoffPoint>& pts, const std::string& title);
// Writes STEM.png and STEM.svg; returns the paths written (none in a build without plots).
std::vector<std::string> write_tradeoff_plot(const std::string& stem, const std::vector<TradeoffPoint>& pts,
                                             const std::string& title);

}  // namespace sp::audit
