// Loading a LiRA experiment: finding the files of either on-disk layout, validating every header and
// label before the heavy read, then streaming each model's logits in blocks of samples and reducing them
// to the f64 statistic phi on the fly (the f32 logits are never held whole). Also builds a LiraData from
// in-memory arrays for tests. Tested in tests/test_lira_data.cpp (both layouts, every bad-input error,
// NaN policies) and end to end in tests/test_lira_cli.cpp.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "attacks/lira_statistic.h"

namespace sp::lira {

enum class Layout { synpriv, tf_privacy };
enum class NanPolicy { error, drop };

std::string_view layout_name(Layout l);
Layout layout_from_name(std::string_view n);
std::string_view nan_policy_name(NanPolicy p);
NanPolicy nan_policy_from_name(std::string_view n);

struct ModelFiles {
  std::string dir;     // the model's directory (shown in messages)
  std::string keep;    // bool [M]
  std::string logits;  // f32/f64 [M, A, C] (synpriv) or [M, 1, A, C] (tf-privacy)
  std::string population_logits;  // f32/f64 [P, A, C] (synpriv with population queries; else empty)
};

struct ExperimentFiles {
  Layout layout = Layout::synpriv;
  std::string labels;  // int [M]
  std::string population_labels;  // int [P]: DIR/population/labels.npy when present, else empty
  std::vector<ModelFiles> models;
  // The query views the logits hold (data/query_views.h: "all", "flips" or "clean"), from the synpriv
  // DIR/config.json's audit.query_views ("all" when the file predates the key); empty when no config.json
  // names them (tf-privacy, sp_lira_synth or foreign directories).
  std::string query_views;
  std::string config;  // DIR/config.json when query_views came from it
};

// synpriv: DIR/audit/labels.npy and DIR/shadow/<k>/{keep,logits}.npy for k = 0..S-1 (decimal names, no
// gaps; entries starting with '.' are ignored, anything else is an error); the population queries
// DIR/population/labels.npy and DIR/shadow/<k>/population_logits.npy are listed where they exist, and the
// query views named by DIR/config.json when it exists (unreadable, or naming unknown views: an error).
// tf-privacy (mi_lira_2021): DIR/y_train.npy and DIR/experiment-*/{keep.npy, logits/<newest>.npy}, where
// newest is the greatest file name (the files are named by zero-padded epoch); experiments are ordered by
// the number after "experiment-".
// `models` (ascending indices): only those models, the others need not have their files yet.
ExperimentFiles find_experiment(const std::string& dir, Layout layout, const std::vector<int64_t>& models = {});

struct LoadOptions {
  Statistic statistic = Statistic::logit;
  NanPolicy nan_policy = NanPolicy::error;
  int threads = 0;  // 0: hardware concurrency
  int64_t block = 128;  // samples per streamed block (phi block of block*A*S doubles stays in L2)
  std::vector<int64_t> views;  // query views to use, e.g. {0} for the clean image only (empty: all)
};

// phi for all models, samples and queries, laid out sample-major so the per-sample fits read contiguous
// memory: phi[(i * A + a) * S + s].
struct LiraData {
  int64_t S = 0, M = 0, A = 0, C = 0;
  int64_t file_views = 0;         // query views per sample in the logits files (A of them are used)
  std::vector<std::string> model_names;  // for messages and the results file
  std::vector<double> phi;        // [M][A][S]; NaN where a pair was dropped
  std::vector<uint8_t> member;    // [M][S]: model s trained on sample i
  std::vector<uint8_t> valid;     // [M][S]: 0 for (model, sample) pairs dropped for non-finite logits
  int64_t dropped_pairs = 0;      // (model, sample) pairs dropped under NanPolicy::drop
  int64_t nonfinite_logits = 0;   // non-finite logit rows (sample, query) found under NanPolicy::drop

  double at(int64_t s, int64_t i, int64_t a) const { return phi[size_t((i * A + a) * S + s)]; }
};

// Also checks that the logits hold as many views as files.query_views names (when it names them).
LiraData load_experiment(const ExperimentFiles& files, const LoadOptions& opt);

// Tests, synthetic studies and the Python module: phi given as [S][M][A] and keep as [S][M] (0/1), read in place.
// A (model, sample) pair with a non-finite phi is dropped (valid 0, counted in dropped_pairs).
LiraData make_lira_data(int64_t S, int64_t M, int64_t A, std::span<const double> phi_sma,
                        std::span<const uint8_t> keep_sm);
inline LiraData make_lira_data(int64_t S, int64_t M, int64_t A, const std::vector<double>& phi_sma,
                               const std::vector<uint8_t>& keep_sm) {
  return make_lira_data(S, M, A, std::span<const double>(phi_sma), std::span<const uint8_t>(keep_sm));
}

int resolve_threads(int requested);
// `views` checked against the A query views of `source` (each in [0, A), no repeats); empty means all A.
std::vector<int64_t> resolve_views(const std::vector<int64_t>& views, int64_t A, const std::string& source);

}  // namespace sp::lira
