// Distillation-loss curves (see loss_plot.h).
#include "paradigms/distill/loss_plot.h"

#include <algorithm>
#include <cmath>

#include "kernels/error.h"
#include "plot/ticks.h"
#include "plot/write_figure.h"

namespace sp::distill {

plot::Figure loss_figure(const std::vector<LossCurve>& curves, const std::string& title, const std::string& name) {
  double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
  for (const LossCurve& c : curves)
    for (auto [x, y] : c.points)
      if (std::isfinite(x) && std::isfinite(y))
        xmin = std::min(xmin, x), xmax = std::max(xmax, x), ymin = std::min(ymin, y), ymax = std::max(ymax, y);
  SP_CHECK(std::isfinite(xmin), "loss plot ", name, ": no finite point to draw");
  plot::Figure f;
  f.width = 800;
  f.height = 500;
  f.title = title;
  const plot::Range xr = plot::nice_range(xmin, xmax), yr = plot::nice_range(ymin, ymax);
  f.x = {"iteration", plot::Scale::linear, xr.min, xr.max, plot::TickStyle::number};
  f.y = {"loss", plot::Scale::linear, yr.min, yr.max, plot::TickStyle::number};
  // Ten colours: beyond ten shadows the legend could not tell curves apart, so it lists the first ten.
  const size_t listed = 10;
  if (curves.size() > listed)
    f.subtitle = "legend: the first " + std::to_string(listed) + " of " + std::to_string(curves.size()) + " curves";
  for (size_t k = 0; k < curves.size(); ++k) {
    plot::Line l;
    if (k < listed) l.label = curves[k].label;
    for (auto [x, y] : curves[k].points) {
      l.x.push_back(x);
      // A non-finite loss breaks the curve there instead of ending the plot.
      l.y.push_back(std::isfinite(y) ? y : NAN);
    }
    l.color = plot::palette(k);
    l.width = 1.8;
    f.lines.push_back(std::move(l));
  }
  return f;
}

std::vector<std::string> write_loss_plot(const std::string& stem, const std::vector<LossCurve>& curves,
                                         const std::string& title) {
  return plot::write_figure(loss_figure(curves, title, stem + ".png"), stem);
}

}  // namespace sp::distill
