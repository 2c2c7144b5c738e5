// Log-log ROC plot (see roc_plot.h).
#include "attacks/roc_plot.h"

#include <algorithm>

#include "plot/write_figure.h"

namespace sp::lira {

plot::Figure roc_figure(const std::vector<PlotCurve>& curves, const std::string& title) {
  plot::Figure f;
  f.width = 900;
  f.height = 720;
  f.title = title;
  f.x = {"False positive rate", plot::Scale::log, kRocPlotMin, 1, plot::TickStyle::power_of_ten};
  f.y = {"True positive rate", plot::Scale::log, kRocPlotMin, 1, plot::TickStyle::power_of_ten};
  for (size_t k = 0; k < curves.size(); ++k) {
    plot::Line l;
    l.label = curves[k].label;
    l.x = curves[k].fpr;
    l.y = curves[k].tpr;
    l.x.resize(std::min(l.x.size(), l.y.size()));
    l.y.resize(l.x.size());
    l.color = plot::palette(k);
    f.lines.push_back(std::move(l));
  }
  plot::Line chance;
  chance.label = "random guess";
  chance.x = chance.y = {kRocPlotMin, 1};
  chance.color = plot::kGrey;
  chance.width = 1.5;
  chance.style = plot::LineStyle::dashed;
  f.lines.push_back(std::move(chance));
  return f;
}

std::vector<std::string> write_roc_plot(const std::string& stem, const std::vector<PlotCurve>& curves,
                                        const std::string& title) {
  return plot::write_figure(roc_figure(curves, title), stem);
}

}  // namespace sp::lira
