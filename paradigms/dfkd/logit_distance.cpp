// Nearest generated image in the teacher's logit space, and the distance CDF plot (see logit_distance.h).
#include "paradigms/dfkd/logit_distance.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "attacks/linear_axes.h"
#include "attacks/roc_plot.h"
#include "data/png.h"
#include "kernels/error.h"

namespace sp::dfkd {

std::vector<double> nearest_distances(const std::vector<float>& queries, const std::vector<float>& bank, int64_t K) {
  SP_CHECK(K >= 1 && queries.size() % size_t(K) == 0 && bank.size() % size_t(K) == 0 && !bank.empty(),
           "nearest_distances: ", queries.size(), " query and ", bank.size(), " bank values for ", K, " logits each");
  const size_t n = queries.size() / size_t(K), m = bank.size() / size_t(K);
  std::vector<double> out(n);
  for (size_t i = 0; i < n; ++i) {
    const float* q = &queries[i * size_t(K)];
    double best = INFINITY;
    for (size_t j = 0; j < m; ++j) {
      const float* b = &bank[j * size_t(K)];
      double d = 0;
      for (int64_t k = 0; k < K && d < best; ++k) d += (double(q[k]) - b[k]) * (double(q[k]) - b[k]);
      best = std::min(best, d);
    }
    out[i] = std::sqrt(best);
  }
  return out;
}

void write_distance_plot(const std::string& path, const std::vector<DistanceGroup>& groups, const std::string& title) {
  double xmax = 0;
  bool any = false;
  for (const DistanceGroup& g : groups)
    for (double v : g.values)
      if (std::isfinite(v)) xmax = std::max(xmax, v), any = true;
  SP_CHECK(any, "distance plot ", path, ": no finite distance to draw");
  if (xmax <= 0) xmax = 1;
  lira::LinearAxes ax;
  ax.left = 100;
  ax.right = 32;
  ax.xmax = xmax;
  lira::AxisText text;
  text.y_format = "%.2f";
  text.x_title = "distance to the nearest generated image (teacher logits)";
  text.x_title_scale = 1;
  text.y_title = "fraction <= x";
  text.title = title;
  lira::Canvas c = lira::draw_linear_axes(ax, text);
  const lira::Rgb black{0, 0, 0};
  ax.clip_to_plot(c);
  size_t colour = 0;
  std::vector<std::pair<std::string, size_t>> legend;
  for (const DistanceGroup& g : groups) {
    std::vector<double> v;
    for (double x : g.values)
      if (std::isfinite(x)) v.push_back(x);
    if (v.empty()) continue;
    std::sort(v.begin(), v.end());
    const double n = double(v.size());
    double prev_x = 0, prev_y = 0;
    for (size_t i = 0; i < v.size(); ++i) {  // a step function: up at each value
      const double y = double(i + 1) / n;
      c.line(ax.px(prev_x), ax.py(prev_y), ax.px(v[i]), ax.py(prev_y), lira::curve_color(colour), 2);
      c.line(ax.px(v[i]), ax.py(prev_y), ax.px(v[i]), ax.py(y), lira::curve_color(colour), 2);
      prev_x = v[i], prev_y = y;
    }
    c.line(ax.px(prev_x), ax.py(1), ax.px(xmax), ax.py(1), lira::curve_color(colour), 2);
    legend.push_back({g.label + " (n=" + std::to_string(v.size()) + ")", colour++});
  }
  c.reset_clip();
  for (size_t k = 0; k < legend.size(); ++k) {
    const int y = ax.height - ax.bottom - 20 - int(legend.size() - k) * 18, x = ax.width - ax.right;
    c.fill_rect(x - 220, y, x - 208, y + 10, lira::curve_color(legend[k].second));
    c.text(x - 202, y + 1, legend[k].first, black, 1);
  }
  write_png_rgb(path, ax.width, ax.height, c.pixels());
}

}  // namespace sp::dfkd
