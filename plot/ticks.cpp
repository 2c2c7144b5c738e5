// Tick positions and labels (see ticks.h).
#include "plot/ticks.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace sp::plot {

namespace {

constexpr int kTargetTicks = 6;

// Digits after the decimal point that tell ticks `step` apart without trailing noise.
int decimals_for(double step) { return std::max(0, int(std::ceil(-std::log10(step) - 1e-9))); }

std::string fixed(double v, int decimals, const char* suffix = "") {
  if (v == 0) v = 0;  // no "-0"
  char b[64];
  std::snprintf(b, sizeof b, "%.*f%s", decimals, v, suffix);
  return b;
}

// "10⁻³": the exponent in Unicode superscripts, which DejaVu Sans draws.
std::string power_of_ten(int e) {
  static const char* kSup[] = {"⁰", "¹", "²", "³", "⁴", "⁵", "⁶", "⁷", "⁸", "⁹"};
  std::string s = "10";
  if (e < 0) s += "⁻";
  std::string digits = std::to_string(std::abs(e));
  for (char c : digits) s += kSup[c - '0'];
  return s;
}

std::string linear_label(double v, double step, TickStyle style) {
  if (style == TickStyle::percent) return fixed(100 * v, decimals_for(100 * step), "%");
  if (std::abs(v) >= 1e6 || (v != 0 && std::abs(v) < 1e-4)) {
    char b[64];
    std::snprintf(b, sizeof b, "%.3g", v);
    return b;
  }
  return fixed(v, decimals_for(step));
}

std::string decade_label(int e, TickStyle style) {
  const double v = std::pow(10.0, e);
  switch (style) {
    case TickStyle::power_of_ten: return power_of_ten(e);
    case TickStyle::percent: return fixed(100 * v, std::max(0, -e - 2), "%");
    case TickStyle::number: break;
  }
  if (e >= 6 || e <= -5) {
    char b[32];
    std::snprintf(b, sizeof b, "1e%d", e);
    return b;
  }
  return fixed(v, std::max(0, -e));
}

}  // namespace

double linear_tick_step(double lo, double hi) {
  const double raw = (hi - lo) / kTargetTicks;
  if (!(raw > 0) || !std::isfinite(raw)) return 1;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double n = raw / mag;
  return (n < 1.5 ? 1 : n < 3 ? 2 : n < 7 ? 5 : 10) * mag;
}

Range nice_range(double lo, double hi) {
  if (!(hi > lo)) return {lo - 0.5, lo + 0.5};
  const double step = linear_tick_step(lo, hi);
  return {std::floor(lo / step + 1e-9) * step, std::ceil(hi / step - 1e-9) * step};
}

std::vector<Tick> axis_ticks(const Axis& a) {
  std::vector<Tick> out;
  if (!(a.max > a.min)) return out;
  if (a.scale == Scale::linear) {
    const double step = linear_tick_step(a.min, a.max);
    // Integer multiples of the step, so 0.1 + 0.2 never prints as 0.30000000000000004.
    const long first = long(std::ceil(a.min / step - 1e-9)), last = long(std::floor(a.max / step + 1e-9));
    for (long k = first; k <= last; ++k) {
      const double v = double(k) * step;
      out.push_back({v, linear_label(v, step, a.ticks), true});
    }
    return out;
  }
  if (!(a.min > 0)) return out;
  const double lmin = std::log10(a.min), lmax = std::log10(a.max);
  const int e0 = int(std::floor(lmin + 1e-9)), e1 = int(std::ceil(lmax - 1e-9));
  // Every decade labelled up to 8 of them, else every second or third, so labels never crowd.
  const int stride = std::max(1, (e1 - e0 + 7) / 8);
  const bool minors = e1 - e0 <= 8;
  for (int e = e0; e <= e1; ++e) {
    const double v = std::pow(10.0, e);
    if (v >= a.min * (1 - 1e-9) && v <= a.max * (1 + 1e-9)) {
      if ((e - e0) % stride == 0)
        out.push_back({v, decade_label(e, a.ticks), true});
      else
        out.push_back({v, "", false});
    }
    if (minors)
      for (int m = 2; m <= 9; ++m) {
        const double mv = m * v;
        if (mv > a.min && mv < a.max) out.push_back({mv, "", false});
      }
  }
  return out;
}

}  // namespace sp::plot
