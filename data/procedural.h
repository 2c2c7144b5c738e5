// "shapes10": a built-in 10-class dataset of 32x32 RGB images that needs no download. Each image shows one
// object whose shape, texture and colour tell the class: disk, ellipse, ring, crescent, rectangle, frame,
// triangle, cross, striped disk, checkered square, 7.5-12 px in radius, near the centre (+-5 px), at a
// random rotation, over a gently varying background of random colours, with light clutter (0-2 small,
// faint lines, dots or squares, rarely over the object), mild brightness/contrast jitter and weak pixel
// noise. Three in four objects take their class's hue (classes 0.1 apart on the hue circle with a per-image
// spread that lets neighbours overlap; look-alike shapes get distant hues), so colour is a strong but
// imperfect cue; the other objects have any colour well off the background, and one in sixteen is faint and
// barely visible. Together with some shape overlap (disk and ellipse share aspect ratios 1.25-1.35, the
// thickest frames leave only a slit, stripes or checkers whose two colours nearly match look plain) this
// keeps accuracy below 100%. A width-8 ResNet-18 learns it on the CPU from a few thousand images; its
// measured test accuracy is in docs/models.md.
//
// Image i of a split is a pure function of (seed, split, i): a Philox stream keyed by the seed and split
// seeds a per-image generator, so the result is identical for any thread count and platform (only IEEE
// +,-,*,/ and sqrt are used, without FMA contraction). Labels cycle through the classes (label = i mod 10),
// so every split is class-balanced. Tested in tests/test_data_procedural.cpp (determinism, thread
// independence, balance, weak coarse-colour statistics, speed) and inspected with tools/sp_data.cpp (PNG grid).
#pragma once
#include <string>

#include "data/dataset.h"

namespace sp::data {

const std::vector<std::string>& shapes10_classes();

// Images [n, 3, 32, 32] of split "train" (split_id 0) or "test" (split_id 1); threads 0 = up to 4.
Dataset make_shapes10(int64_t n, uint64_t seed, const std::string& split = "train", int threads = 0);
DatasetSplits make_shapes10_splits(int64_t n_train, int64_t n_test, uint64_t seed, int threads = 0);

// Renders image `index` of a split into chw (3*32*32 bytes); returns its label.
int64_t render_shapes10(uint64_t seed, uint64_t split_id, int64_t index, uint8_t* chw);

}  // namespace sp::data
