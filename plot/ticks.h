// Where an axis gets its ticks and what they say: linear axes at 1, 2 or 5 times a power of ten (about six
// labelled ticks), log axes at every decade (labelled) with unlabelled minor ticks at 2..9 times each decade
// while the axis spans few enough decades to fit them. Also the "nice" range that rounds data limits outward
// to such ticks. Pure arithmetic, no drawing. Tested in tests/test_plot.cpp.
#pragma once
#include <string>
#include <vector>

#include "plot/figure.h"

namespace sp::plot {

struct Tick {
  double value = 0;
  std::string label;  // empty for a minor tick
  bool major = true;
};

std::vector<Tick> axis_ticks(const Axis& a);

// The step axis_ticks uses on a linear axis over [lo, hi].
double linear_tick_step(double lo, double hi);

// [lo, hi] widened to the enclosing multiples of the linear tick step; a single value gets a unit-wide range.
struct Range {
  double min = 0, max = 1;
};
Range nice_range(double lo, double hi);

}  // namespace sp::plot
