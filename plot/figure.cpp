// Figure model: palette, axis mapping and validation (see figure.h).
#include "plot/figure.h"

#include <cmath>
#include <limits>

#include "kernels/error.h"

namespace sp::plot {

Color palette(size_t k) {
  static const Color kTab10[] = {
      {0.122, 0.467, 0.706}, {1.000, 0.498, 0.055}, {0.173, 0.627, 0.173}, {0.839, 0.153, 0.157},
      {0.580, 0.404, 0.741}, {0.549, 0.337, 0.294}, {0.890, 0.467, 0.761}, {0.498, 0.498, 0.498},
      {0.737, 0.741, 0.133}, {0.090, 0.745, 0.812}};
  return kTab10[k % 10];
}

double Axis::fraction(double v) const {
  SP_CHECK(max > min, "plot axis '", title, "': empty range [", min, ", ", max, "]");
  if (scale == Scale::linear) return (v - min) / (max - min);
  SP_CHECK(min > 0, "plot axis '", title, "': a log axis needs a positive range, got [", min, ", ", max, "]");
  if (std::isnan(v)) return v;
  if (v <= 0) return -std::numeric_limits<double>::infinity();
  return (std::log10(v) - std::log10(min)) / (std::log10(max) - std::log10(min));
}

void validate(const Figure& f, const std::string& what) {
  SP_CHECK(f.width >= 100 && f.height >= 100 && f.width <= 10000 && f.height <= 10000, what, ": plot size ", f.width,
           " x ", f.height, " pixels (100 to 10000 each)");
  for (const Axis* a : {&f.x, &f.y}) {
    SP_CHECK(std::isfinite(a->min) && std::isfinite(a->max) && a->max > a->min, what, ": plot axis '", a->title,
             "' has the empty or non-finite range [", a->min, ", ", a->max, "]");
    SP_CHECK(a->scale == Scale::linear || a->min > 0, what, ": log axis '", a->title,
             "' needs a positive range, got [", a->min, ", ", a->max, "]");
    SP_CHECK(a->ticks != TickStyle::power_of_ten || a->scale == Scale::log, what, ": axis '", a->title,
             "' labels powers of ten but is linear");
  }
  for (const Line& l : f.lines)
    SP_CHECK(l.x.size() == l.y.size(), what, ": line '", l.label, "' has ", l.x.size(), " x and ", l.y.size(),
             " y values");
}

}  // namespace sp::plot
