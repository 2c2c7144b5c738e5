// The "coreset" section of an experiment configuration (paradigm "coreset", paper-protocol.md §1.4/§2.2):
//
//   "paradigm": "coreset",
//   "coreset": {
//     "method": "forgetting",      // uniform | forgetting | el2n | grand | uncertainty | herding | kcenter
//     "fraction": 0.4,             // of the model's private set, in (0, 1]
//     "balance": true,             // per-class budgets round(fraction * n_c) (DeepCore's default) or one
//                                  // global budget round(fraction * n)
//     "selection_epochs": 10,      // epochs of the selection model (not for uniform); <= recipe.epochs
//     "repeats": 10,               // el2n / grand: independently initialised selection runs averaged
//     "score": "least_confidence"  // uncertainty: least_confidence | entropy | margin
//   }
//
// The selection model is the experiment's model trained with the experiment's recipe (optimizer, batch,
// augmentation, and the schedule of the whole recipe) and stopped after selection_epochs epochs, so its
// scores are "early in training" of the same run the final model gets. Keys that a method does not use are
// errors. Tested in tests/test_coreset_config.cpp.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "paradigms/json_fields.h"

namespace sp::coreset {

enum class Method { uniform, forgetting, el2n, grand, uncertainty, herding, kcenter };
enum class Uncertainty { least_confidence, entropy, margin };

const std::vector<std::string>& method_names();
std::string method_name(Method m);
std::string uncertainty_name(Uncertainty u);

struct CoresetConfig {
  Method method = Method::uniform;
  double fraction = 0.4;
  bool balance = true;
  int selection_epochs = 10;
  int repeats = 1;
  Uncertainty score = Uncertainty::least_confidence;
};

// Reads the "coreset" object (f) into c and its resolved form into out; recipe_epochs bounds
// selection_epochs. Problems are added to f's error list under their key paths.
void read_coreset(cfg::Fields f, int recipe_epochs, CoresetConfig& c, nlohmann::json& out);

}  // namespace sp::coreset
