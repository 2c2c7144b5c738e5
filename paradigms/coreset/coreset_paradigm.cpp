// Paradigm "coreset": each shadow trains on a coreset selected from its private set (coreset_shadow.h) with
// the baseline recipe, configured by its "coreset" section (coreset_config.h). Its outputs: the [S, M] group
// file for sp_lira --groups (IN and selected / IN but not selected), a grid of shadow 0's selection, the
// share of IN canaries the selections kept (summary, report, comparison column). Tested by the tests it
// declares below.
#include <filesystem>

#include "data/npy.h"
#include "data/sample_grid.h"
#include "paradigms/coreset/coreset_config.h"
#include "paradigms/coreset/coreset_shadow.h"
#include "paradigms/paradigm.h"

namespace fs = std::filesystem;

namespace sp::coreset {
namespace {

// Training as the baseline, on the coreset; the selection's record joins metrics.json.
class CoresetShadowJob final : public ShadowJob {
 public:
  explicit CoresetShadowJob(ShadowCoreset c) : c_(std::move(c)) {}
  void add_metrics(nlohmann::json& m, const TrainState&, double) const override {
    m["seconds"]["select"] = c_.seconds;
    m["coreset"] = c_.metrics;
  }

 private:
  ShadowCoreset c_;
};

std::string kept_text(const audit::ojson& c) {
  return std::to_string(c.value("in_canaries_selected", int64_t(0))) + " / " + std::to_string(c.value("in_canaries", int64_t(0))) + " (" +
         audit::percent_text(audit::summary_number(c, "in_canaries_selected_fraction"), 1) + ")";
}

class Coreset final : public Paradigm {
 public:
  std::string name() const override { return "coreset"; }
  std::string description() const override { return "training on a coreset selected from the private set"; }
  ParadigmTests tests() const override {
    return {"CoresetConfig.MistakesNameTheirKeyPaths", "CoresetShadow.SpTrainSelectsFromEachPrivateSetAndResumes",
            "AuditReport.SummaryFromShadowsAndLiraResults", "configs/coreset_small_cpu.json"};
  }
  std::vector<std::string> config_sections() const override { return {"coreset"}; }
  void read_config(cfg::Fields& root, RunConfig& c, cfg::Errors&, nlohmann::json& out) const override {
    CoresetConfig cc;
    read_coreset(root.object("coreset"), c.recipe.epochs, cc, out["coreset"]);
    c.paradigm_settings = cc;
  }
  std::unique_ptr<ShadowJob> prepare_shadow(const ExperimentRun& run, int k, data::TrainingSet& ts, Stream& s,
                                            ProgressPrinter* progress) const override {
    return std::make_unique<CoresetShadowJob>(restrict_to_coreset(run, k, ts, s, progress));
  }

  std::vector<std::string> finish_experiment(const std::string& dir, const RunConfig& cfg) const override {
    const bool had = fs::exists(dir + "/coreset_groups.npy");
    std::string groups = write_groups_when_complete(dir, cfg.num_shadows, "coreset_groups.npy");
    if (groups.empty() || had) return {};
    return {"wrote " + groups + " (sp_lira --groups: 1 = IN and selected, 2 = IN but not selected)"};
  }
  std::string lira_groups(const std::string& dir) const override {
    return fs::exists(dir + "/coreset_groups.npy") ? dir + "/coreset_groups.npy" : "";
  }
  std::string group_name(const std::string& key) const override {
    if (key == std::to_string(kSelected)) return "IN, selected (" + key + ")";
    if (key == std::to_string(kInNotSelected)) return "IN, not selected (" + key + ")";
    return key;
  }
  std::string groups_note() const override {
    return "Members: the IN canaries of each group; non-members: a random half of the OUT (model, canary) pairs "
           "each, so both groups are attacked against the same kind of non-member.";
  }
  std::vector<audit::ReportImage> report_images(const RunConfig& cfg, const std::string& dir) const override {
    const std::string selected = "images/selected_shadow0.png";
    if (!fs::exists(dir + "/shadow/0/selected.npy")) return {};
    if (!fs::exists(dir + "/" + selected)) {
      data::DatasetSplits d = load_run_dataset(cfg);
      data::Experiment exp = data::open_experiment(dir);
      std::vector<int64_t> idx = npy::Reader(dir + "/shadow/0/selected.npy").read_integers();
      std::vector<int64_t> labels = data::training_labels(d.train.labels.to_vector<int64_t>(), exp.audit);
      data::Dataset s = data::subset(d.train, idx, "selected");
      std::vector<int64_t> sl;
      for (int64_t i : idx) sl.push_back(labels[size_t(i)]);
      s.labels = Tensor::from_vector(sl, {int64_t(sl.size())});
      fs::create_directories(dir + "/images");
      data::save_sample_grid(dir + "/" + selected, s, 10, 2);
    }
    return {{selected, "Shadow 0's selected training data, one row per class"}};
  }

  ojson summarize(const std::vector<audit::ShadowEntry>& shadows) const override {
    int64_t in = 0, kept = 0;
    std::vector<double> per_shadow, size;
    for (const audit::ShadowEntry& e : shadows) {
      if (e.state != audit::ShadowState::done || !e.metrics.contains("coreset") || !e.metrics["coreset"].is_object())
        continue;
      const nlohmann::json& c = e.metrics["coreset"];
      int64_t i = c.value("in_canaries", int64_t(0)), s = c.value("in_canaries_selected", int64_t(0));
      in += i;
      kept += s;
      if (i > 0) per_shadow.push_back(double(s) / double(i));  // a shadow without IN canaries has no fraction
      size.push_back(double(c.value("size", int64_t(0))));
    }
    if (size.empty()) return nullptr;
    return {{"in_canaries", in},
            {"in_canaries_selected", kept},
            {"in_canaries_selected_fraction", in > 0 ? audit::number_or_null(double(kept) / double(in)) : ojson(nullptr)},
            {"fraction_per_shadow", audit::stats_json(per_shadow, true)},
            {"size", audit::stats_json(size, false)}};
  }
  void report_section(audit::ReportDoc& d, const ojson& s) const override {
    d.heading("Coreset");
    if (!s.contains("coreset")) {
      d.paragraph("No finished shadow model has recorded its coreset yet.");
      return;
    }
    const ojson& c = s["coreset"];
    const ojson per_shadow = c.value("fraction_per_shadow", ojson::object());
    d.paragraph("IN canaries kept in the coreset: " + kept_text(c) + " over the finished shadows, " +
                audit::percent_text(audit::summary_number(per_shadow, "min"), 1) + " to " +
                audit::percent_text(audit::summary_number(per_shadow, "max"), 1) + " per shadow; mean coreset size " +
                audit::format_number("%.1f", audit::summary_number(c.value("size", ojson::object()), "mean")) +
                ". A uniform selection keeps the coreset fraction of them on average.");
  }
  std::string comparison_heading() const override { return "IN canaries in the coreset"; }
  std::string comparison_cell(const ojson& s) const override {
    return s.contains("coreset") ? kept_text(s["coreset"]) : "-";
  }
};

SP_REGISTER_PARADIGM(Coreset);

}  // namespace
}  // namespace sp::coreset
