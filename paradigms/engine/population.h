// The population set of an experiment: test images that no model of the experiment trains on, queried by every
// shadow model with the same views as the audit samples (audit.query_views), so population-based attacks (RMIA,
// attacks/rmia.h) can compare a target sample x with many samples z that are certainly OUT:
//   DIR/population/indices.npy  int64 [P]  indices into the (possibly subsetted) test split
//   DIR/population/labels.npy   int64 [P]  their labels
//   DIR/shadow/<k>/population_logits.npy  f32 [P, A, C] (written by paradigms/engine/shadow_train.cpp)
// The set is the first min(audit.population, test size) test images. An image that is an exact copy of a
// training image would be IN for the shadows that train on that copy, so such a population is refused,
// naming both images. Tested in tests/test_population.cpp and end to end in tests/test_sp_train.cpp.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset.h"

namespace sp {

inline constexpr const char* kPopulationDir = "population";
inline constexpr const char* kPopulationLogitsName = "population_logits.npy";

struct PopulationSet {
  std::vector<int64_t> indices;  // into the test split
  std::vector<int64_t> labels;
  int64_t size() const { return int64_t(indices.size()); }
};

// The first min(max_size, test size) test images; throws, naming the test and the training image, when one of
// them equals a training image pixel for pixel.
PopulationSet choose_population(const data::DatasetSplits& d, int64_t max_size);

// DIR/population/{indices,labels}.npy written atomically when missing; when present they must hold exactly
// `p` (a directory created with another population is refused, naming the file). Nothing for an empty set.
void write_population_files(const std::string& dir, const PopulationSet& p);

}  // namespace sp
