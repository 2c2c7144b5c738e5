// The log-log ROC plot of the LiRA report (lira/roc.png and lira/roc.svg): both axes from 1e-5 to 1 with
// decade ticks and minor ticks, the random-guess diagonal (dashed), one coloured curve per attack through its
// exact ROC points, and a legend with each attack's AUC and TPR at 0.1% FPR. Drawn by plot/. Tested in
// tests/test_lira_plot.cpp (the figure's axes and curves; curve pixels land where the axes say in the PNG;
// the SVG names every attack).
#pragma once
#include <string>
#include <vector>

#include "attacks/roc.h"
#include "plot/figure.h"

namespace sp::lira {

struct PlotCurve {
  std::string label;             // legend text; tabs separate aligned columns
  std::vector<double> fpr, tpr;  // ROC points in order of increasing FPR
};

inline constexpr double kRocPlotMin = 1e-5;  // both axes span [kRocPlotMin, 1]

plot::Figure roc_figure(const std::vector<PlotCurve>& curves, const std::string& title);
// Writes STEM.png and STEM.svg; returns the paths written (none in a build without plots).
std::vector<std::string> write_roc_plot(const std::string& stem, const std::vector<PlotCurve>& curves,
                                        const std::string& title);

}  // namespace sp::lira
