// The distillation-loss curves of an experiment's shadows in one plot (images/distill_loss.png and .svg;
// linear axes: iteration, loss; one colour per shadow, in the legend). Drawn by plot/. Tested in
// tests/test_distill.cpp (the axes cover every point; empty input is refused; the files are written).
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "plot/figure.h"

namespace sp::distill {

struct LossCurve {
  std::string label;                            // "shadow 0"
  std::vector<std::pair<double, double>> points;  // (iteration, loss)
};

// Throws sp::Error naming `name` when no curve has a finite point.
plot::Figure loss_figure(const std::vector<LossCurve>& curves, const std::string& title, const std::string& name);
// Writes STEM.png and STEM.svg; returns the paths written (none in a build without plots).
std::vector<std::string> write_loss_plot(const std::string& stem, const std::vector<LossCurve>& curves,
                                         const std::string& title);

}  // namespace sp::distill
