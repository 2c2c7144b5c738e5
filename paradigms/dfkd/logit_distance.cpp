// Nearest generated image in the teacher's logit space, and the distance CDF plot (see logit_distance.h).
#include "paradigms/dfkd/logit_distance.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "kernels/error.h"
#include "plot/ticks.h"
#include "plot/write_figure.h"

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

plot::Figure distance_figure(const std::vector<DistanceGroup>& groups, const std::string& title,
                             const std::string& name) {
  double xmax = 0;
  bool any = false;
  for (const DistanceGroup& g : groups)
    for (double v : g.values)
      if (std::isfinite(v)) xmax = std::max(xmax, v), any = true;
  SP_CHECK(any, "distance plot ", name, ": no finite distance to draw");
  plot::Figure f;
  f.width = 800;
  f.height = 500;
  f.title = title;
  f.x = {"distance to the nearest generated image (teacher logits)", plot::Scale::linear, 0,
         plot::nice_range(0, xmax > 0 ? xmax : 1).max, plot::TickStyle::number};
  // A little room above 1 and below 0, so the flat ends of the CDFs are not hidden under the frame.
  f.y = {"fraction of samples at distance ≤ x", plot::Scale::linear, -0.02, 1.04, plot::TickStyle::number};
  size_t colour = 0;
  for (const DistanceGroup& g : groups) {
    std::vector<double> v;
    for (double x : g.values)
      if (std::isfinite(x)) v.push_back(x);
    if (v.empty()) continue;
    std::sort(v.begin(), v.end());
    plot::Line l;
    l.label = g.label + " (n=" + std::to_string(v.size()) + ")";
    l.color = plot::palette(colour++);
    // The empirical CDF as a step function: flat, then up by 1/n at each value.
    const double n = double(v.size());
    l.x.push_back(0);
    l.y.push_back(0);
    for (size_t i = 0; i < v.size(); ++i) {
      l.x.push_back(v[i]);
      l.y.push_back(double(i) / n);
      l.x.push_back(v[i]);
      l.y.push_back(double(i + 1) / n);
    }
    l.x.push_back(f.x.max);
    l.y.push_back(1);
    f.lines.push_back(std::move(l));
  }
  f.legend = plot::LegendPlace::lower_right;  // CDFs rise from the lower left to the upper right
  return f;
}

std::vector<std::string> write_distance_plot(const std::string& stem, const std::vector<DistanceGroup>& groups,
                                             const std::string& title) {
  return plot::write_figure(distance_figure(groups, title, stem + ".png"), stem);
}

}  // namespace sp::dfkd
