// Differentiable Siamese Augmentation (DSA, Zhao & Bilen 2021) as used by DC/DSA/DM/MTT/DATM, mode 'S':
// each call applies ONE group, drawn uniformly among the strategy's tokens, to the whole batch:
//   color  = brightness (x + b), then saturation ((x - mean_C) * f + mean_C), then contrast
//            ((x - mean_CHW) * f + mean_CHW);
//   crop   = integer translation with zero fill (remap op); cutout = multiply by a constant 0/1 mask;
//   flip   = horizontal flip when r < prob_flip (remap op);
//   scale / rotate = affine_grid + bilinear grid_sample with zero padding, align_corners = true (the flag
//            MTT and DATM pass; DC's default would be false): sampling grids are constants.
// Every group is differentiable w.r.t. the images to any order (all pieces are tape ops with
// differentiable backwards), so an augmentation can sit inside unrolled training steps.
// Randomness: draw() fills an AugDraw on the host from (seed, counter) with the counter-based RNG, so a
// draw is reproducible and backend-independent; apply() only reads it. Siamese mode gives every sample
// sample 0's parameters; the caller draws once and applies the same AugDraw to the real and the synthetic
// batch of a class. Per-sample mode (MTT/DATM, seed -1 upstream) draws each sample's own parameters.
// Tested in tests/test_dsa.cpp and tests/test_dsa_golden.cpp.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "nn/tape.h"

namespace sp::dsa {

enum class Group : uint8_t { color, crop, cutout, flip, scale, rotate };
const char* group_name(Group g);

// "color_crop_cutout_flip_scale_rotate": tokens separated by '_'; a repeated token is drawn more often (as
// upstream, which picks uniformly among the split tokens). "none" (or "None", or "") is the empty
// strategy: apply() returns its input. Unknown or empty tokens throw sp::Error naming the token.
std::vector<Group> parse_strategy(const std::string& strategy);

// Upstream ParamDiffAug defaults.
struct DsaParams {
  double prob_flip = 0.5;
  double ratio_scale = 1.2;       // sx, sy ~ U[1/ratio, ratio)
  double ratio_rotate = 15.0;     // degrees: U[-ratio, ratio)
  double ratio_crop_pad = 0.125;  // shift = int(size * ratio + 0.5) pixels per axis
  double ratio_cutout = 0.5;      // square side = int(size * ratio + 0.5) per axis
  double brightness = 1.0;        // x + (r - 0.5) * brightness
  double saturation = 2.0;        // factor r * saturation
  double contrast = 0.5;          // factor r + contrast
};

// One sampled augmentation of a batch of n images of h x w. Only the chosen group's vectors are filled,
// each with n entries (identical in Siamese mode).
struct AugDraw {
  Group group = Group::color;
  bool identity = false;  // the empty strategy: nothing to apply
  int64_t n = 0, h = 0, w = 0;
  // color: added brightness, saturation factor, contrast factor.
  std::vector<double> brightness, saturation, contrast;
  // crop: out(i, j) = in(i + shift_y, j + shift_x), zero outside.
  std::vector<int32_t> shift_y, shift_x;
  // cutout: rows [cut_y - cut_h / 2, + cut_h) and columns likewise, clipped to the image, are zeroed.
  std::vector<int32_t> cut_y, cut_x;
  int32_t cut_h = 0, cut_w = 0;
  // flip: 1 where the image is mirrored along W.
  std::vector<int32_t> flip;
  // scale: theta = [[sx, 0, 0], [0, sy, 0]]; rotate: angle in radians, theta = [[cos, -sin, 0], [sin, cos, 0]].
  std::vector<double> scale_x, scale_y, angle;
};

// Draws the group and the parameters for a batch of n images of h x w from (seed, counter): the same
// arguments always give the same draw; changing either gives an independent one. `siamese`: all samples
// share sample 0's parameters (which equal sample 0's parameters in per-sample mode).
AugDraw draw(const std::vector<Group>& strategy, const DsaParams& p, int64_t n, int64_t h, int64_t w, uint64_t seed,
             uint64_t counter, bool siamese);

// The affine matrices of a scale or rotate draw, row-major [n, 2, 3] (throws for other groups).
std::vector<double> affine_theta(const AugDraw& d);

// Applies the draw to x [n, C, h, w] (f32 or f64, any device) with tape ops; align_corners = true.
Var apply(Tape& t, Var x, const AugDraw& d);

}  // namespace sp::dsa
