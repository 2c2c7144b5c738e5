// What the paper's Fig. 9 argues, measured: generated images look nothing like the private data, yet in the
// teacher's logit space some lie close to mislabeled canaries. For query logits [n, K] and the generated
// images' logits [m, K] (both the teacher's, un-augmented), the Euclidean distance from each query to its
// nearest generated image; and a plot of the empirical distributions (CDFs) of those distances for IN
// canaries, OUT canaries and clean training images. Tested in tests/test_dfkd_synthesis.cpp (hand-made
// points; the plot's curves land inside its axes).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "plot/figure.h"

namespace sp::dfkd {

// queries [n * K], bank [m * K] row-major; m >= 1. Returns [n] distances.
std::vector<double> nearest_distances(const std::vector<float>& queries, const std::vector<float>& bank, int64_t K);

struct DistanceGroup {
  std::string label;
  std::vector<double> values;
};

// One CDF curve per group (empty groups skipped); throws sp::Error naming `name` when no group has a finite
// value.
plot::Figure distance_figure(const std::vector<DistanceGroup>& groups, const std::string& title,
                             const std::string& name);
// Writes STEM.png and STEM.svg (drawn by plot/); returns the paths written (none in a build without plots).
std::vector<std::string> write_distance_plot(const std::string& stem, const std::vector<DistanceGroup>& groups,
                                             const std::string& title);


}  // namespace sp::dfkd
