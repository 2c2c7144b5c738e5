// The log-log ROC plot of the LiRA report: both axes from 1e-5 to 1 with decade grid lines and minor
// ticks, the chance diagonal (dashed), one coloured curve per attack through its (thinned, exact) ROC
// points, and a legend with each attack's AUC and TPR at 0.1% FPR. Tested in tests/test_lira_plot.cpp
// (curve pixels land where the axes say, PNG written).
#pragma once
#include <string>
#include <vector>

#include "attacks/raster.h"
#include "attacks/roc.h"

namespace sp::lira {

struct PlotCurve {
  std::string label;             // legend text
  std::vector<double> fpr, tpr;  // ROC points in order of increasing FPR
};

struct PlotLayout {
  int width = 960, height = 760;
  int left = 110, right = 30, top = 60, bottom = 90;
  double log_min = -5;  // both axes span [10^log_min, 1]
};

// Pixel coordinates of a rate pair in the plot area (rates <= 0 map to -inf).
double plot_x(const PlotLayout& L, double fpr);
double plot_y(const PlotLayout& L, double tpr);

Canvas render_roc_plot(const std::vector<PlotCurve>& curves, const std::string& title, const PlotLayout& L = {});
void write_roc_plot(const std::string& path, const std::vector<PlotCurve>& curves, const std::string& title);

// The colour of curve k (matplotlib's tab10 order).
Rgb curve_color(size_t k);

}  // namespace sp::lira
