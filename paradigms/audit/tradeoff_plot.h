// The privacy-utility-cost scatter plot of `sp_audit --compare` (the paper's Figure 1 view): test accuracy
// on x (linear, in %), TPR at 0.1% FPR on y (log scale from the 0.1% of a random guess to 100%, the chance
// level drawn dashed), one disc per experiment whose area is proportional to its training time per model,
// labelled with its setting. Tested in tests/test_sp_audit_report.cpp (discs land where the axes say,
// sizes grow with time, PNG written).
#pragma once
#include <string>
#include <vector>

#include "attacks/raster.h"

namespace sp::audit {

struct TradeoffPoint {
  std::string label;
  double accuracy = 0;  // in [0, 1]
  double tpr = 0;       // TPR at 0.1% FPR, in [0, 1]; values below 1e-3 are drawn at the axis floor
  double seconds = 0;   // training time per model
};

struct TradeoffLayout {
  int width = 1000, height = 720;
  int left = 110, right = 40, top = 60, bottom = 90;
  double acc_min = 0, acc_max = 1;  // x range, from the points (with a margin) when not given
  double log_tpr_min = -3;          // y spans [10^log_tpr_min, 1]
};

// The layout with the x range fitted to the points.
TradeoffLayout fit_layout(const std::vector<TradeoffPoint>& pts);
double tradeoff_x(const TradeoffLayout& L, double accuracy);
double tradeoff_y(const TradeoffLayout& L, double tpr);
// Disc radius in pixels for a training time, given the largest time among the points.
int disc_radius(double seconds, double max_seconds);

lira::Canvas render_tradeoff_plot(const std::vector<TradeoffPoint>& pts, const std::string& title,
                                  const TradeoffLayout& L);
void write_tradeoff_plot(const std::string& path, const std::vector<TradeoffPoint>& pts, const std::string& title);

}  // namespace sp::audit
