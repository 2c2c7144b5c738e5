// Which LiRA query views a shadow model is queried on (the configuration key audit.query_views): all 18
// views of data/augment.h (flip x dy x dx), the clean image and its horizontal flip, or the clean image
// alone. LiRA queries the augmentations a model was trained with; the default follows the recipe's
// augmentation. Only names, counts and the default rule live here, so the configuration and sp_lira can use
// them without the kernels; the crop table of each selection is data/augment.h's query_view_indices. Tested
// in tests/test_data_augment.cpp (names, counts, default rule) and tests/test_config.cpp (the key).
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sp::data {

enum class QueryViews { all, flips, clean };

// Views in the full table (flip in {no, yes} x dy in {0, -4, +4} x dx in {0, -4, +4}).
inline constexpr int kNumQueryViews = 18;

// In the order of the enum, as written in configurations and reports.
inline const std::vector<std::string>& query_views_names() {
  static const std::vector<std::string> names = {"all", "flips", "clean"};
  return names;
}

inline std::string query_views_name(QueryViews v) { return query_views_names()[size_t(v)]; }

inline std::optional<QueryViews> query_views_from_name(std::string_view name) {
  const std::vector<std::string>& names = query_views_names();
  for (size_t i = 0; i < names.size(); ++i)
    if (names[i] == name) return QueryViews(i);
  return std::nullopt;
}

inline int num_query_views(QueryViews v) {
  switch (v) {
    case QueryViews::all: return kNumQueryViews;
    case QueryViews::flips: return 2;
    case QueryViews::clean: return 1;
  }
  return kNumQueryViews;
}

// What the views are, for reports.
inline std::string query_views_description(QueryViews v) {
  switch (v) {
    case QueryViews::all: return "the clean image, its horizontal flip, and both shifted by 4 pixels";
    case QueryViews::flips: return "the clean image and its horizontal flip";
    case QueryViews::clean: return "the clean image";
  }
  return "";
}

// The views a model trained with this augmentation has seen: shifted crops only with crop padding (the
// table's shifts are +-4 whatever the padding: a shifted crop is closer to what such a model saw than the
// clean image alone), flips only with flipping. Without either the other views are images the model never
// saw and only add noise to the per-sample fits.
inline QueryViews default_query_views(int crop_pad, bool flip) {
  if (crop_pad > 0) return QueryViews::all;
  return flip ? QueryViews::flips : QueryViews::clean;
}

}  // namespace sp::data
