// write_figure.h in a build configured with -DSP_CAIRO=OFF (no cairo on the machine, e.g. the GPU check):
// nothing is drawn, and every skipped plot is announced on stderr so its absence from a report is explained.
// Tested in tests/test_plot.cpp (the note and no files when plots_available() is false).
#include <cstdio>

#include "kernels/error.h"
#include "plot/write_figure.h"

namespace sp::plot {

bool plots_available() { return false; }

std::string render_svg(const Figure&, const std::string& name, RenderInfo*) {
  SP_FAIL(name, ": not drawn: this build has no plots (configured with -DSP_CAIRO=OFF)");
}

std::string render_png(const Figure&, const std::string& name, RenderInfo*) {
  SP_FAIL(name, ": not drawn: this build has no plots (configured with -DSP_CAIRO=OFF)");
}

std::vector<std::string> write_figure(const Figure& f, const std::string& stem) {
  validate(f, stem);
  std::fprintf(stderr,
               "note: plot '%s' not drawn (no %s.png, %s.svg): synpriv was built with -DSP_CAIRO=OFF (install "
               "libcairo2-dev and reconfigure with -DSP_CAIRO=ON to get plots)\n",
               f.title.c_str(), stem.c_str(), stem.c_str());
  return {};
}

}  // namespace sp::plot
