// Draws a laid-out Figure on any cairo context: background, titles, grid, the lines and discs clipped to the
// plot area, frame, ticks with their labels, axis titles, legend and disc labels. The SVG and the PNG of
// plot/cairo_output.cpp are this one drawing on two surfaces. Tested through tests/test_plot.cpp.
#pragma once
#include <cairo.h>

#include "plot/figure.h"
#include "plot/write_figure.h"

namespace sp::plot {

// Leaves errors in the context's status for the caller to check.
RenderInfo draw_figure(cairo_t* cr, const Figure& f);

// Liang-Barsky: clips the segment (x0,y0)-(x1,y1) to [bx0,bx1] x [by0,by1]; false when nothing is left. Keeps
// coordinates far outside the image (a log axis near zero) out of cairo's fixed-point range.
bool clip_segment(double& x0, double& y0, double& x1, double& y1, double bx0, double by0, double bx1, double by1);

}  // namespace sp::plot
