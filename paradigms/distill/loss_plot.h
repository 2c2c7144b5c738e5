// The distillation-loss curves of an experiment's shadows in one PNG (linear axes: iteration, loss; one
// colour per shadow, labelled), drawn on the plot canvas of attacks/raster.h. Tested in
// tests/test_distill.cpp (curves land inside the axes; empty input is refused).
#pragma once
#include <string>
#include <utility>
#include <vector>

namespace sp::distill {

struct LossCurve {
  std::string label;                            // "shadow 0"
  std::vector<std::pair<double, double>> points;  // (iteration, loss)
};

// Throws sp::Error when no curve has a finite point.
void write_loss_plot(const std::string& path, const std::vector<LossCurve>& curves, const std::string& title);

}  // namespace sp::distill
