// Parsing the "coreset" configuration section (see coreset_config.h). Tested in tests/test_coreset_config.cpp.
#include "paradigms/coreset/coreset_config.h"

#include <algorithm>

namespace sp::coreset {

namespace {
const std::vector<std::string> kUncertainty = {"least_confidence", "entropy", "margin"};
}  // namespace

const std::vector<std::string>& method_names() {
  static const std::vector<std::string> names = {"uniform", "forgetting", "el2n", "grand", "uncertainty", "herding",
                                                 "kcenter"};
  return names;
}

std::string method_name(Method m) { return method_names()[size_t(m)]; }
std::string uncertainty_name(Uncertainty u) { return kUncertainty[size_t(u)]; }

void read_coreset(cfg::Fields f, int recipe_epochs, CoresetConfig& c, nlohmann::json& out) {
  f.require("method");
  f.require("fraction");
  const std::string method = f.string("method", "uniform", method_names());
  const auto& names = method_names();
  c.method = Method(std::find(names.begin(), names.end(), method) - names.begin());
  c.fraction = f.number("fraction", 0.4, 0, 1);
  if (f.has("fraction") && c.fraction <= 0) f.error("fraction", "must be above 0");
  c.balance = f.boolean("balance", true);
  out = {{"method", method}, {"fraction", c.fraction}, {"balance", c.balance}};

  const std::string not_used = "not used by method " + method;
  if (c.method == Method::uniform) {
    f.reject({"selection_epochs", "repeats"}, not_used + " (no selection model)");
  } else {
    c.selection_epochs = int(f.integer("selection_epochs", std::min(10, recipe_epochs),
                                       c.method == Method::forgetting ? 1 : 0, 100000));
    if (c.selection_epochs > recipe_epochs && recipe_epochs > 0)
      f.error("selection_epochs", std::to_string(c.selection_epochs) + " must not exceed recipe.epochs (" +
                                      std::to_string(recipe_epochs) + "): the selection model stops early in the recipe");
    out["selection_epochs"] = c.selection_epochs;
  }
  if (c.method == Method::el2n || c.method == Method::grand) {
    c.repeats = int(f.integer("repeats", 10, 1, 1000));
    out["repeats"] = c.repeats;
  } else if (c.method != Method::uniform) {
    f.reject({"repeats"}, not_used + " (only el2n and grand average several runs)");
  }
  if (c.method == Method::uncertainty) {
    std::string s = f.string("score", "least_confidence", kUncertainty);
    c.score = Uncertainty(std::find(kUncertainty.begin(), kUncertainty.end(), s) - kUncertainty.begin());
    out["score"] = uncertainty_name(c.score);
  } else {
    f.reject({"score"}, not_used + " (only uncertainty has score kinds)");
  }
  f.finish();
}

}  // namespace sp::coreset
