// Paradigm "dpsgd": each shadow trains with DP-SGD (per-example clipping and Gaussian noise, Poisson
// batches, optional augmentation multiplicity and parameter EMA; dp_trainer.h) in place of the trainer's
// step, with its "dpsgd" section (dp_config.h). Its summary and report state the privacy guarantee of the
// models. Tested by the tests it declares below.
#include <cstdio>

#include "paradigms/dpsgd/dp_trainer.h"
#include "paradigms/engine/experiment_run.h"
#include "paradigms/paradigm.h"

namespace sp::dpsgd {
namespace {

// One shadow's DP-SGD training: the plan for its private set, the DP step per epoch, the EMA in the
// checkpoints and, at the end, in the evaluated parameters.
class DpShadowJob final : public ShadowJob {
 public:
  DpShadowJob(const DpsgdSettings& settings, uint64_t seed, Stream& s) : d_(settings), seed_(seed), s_(s) {}

  void start(Trainer& tr, const DeviceData& data, const std::string& name, const Log& log) override {
    data_ = &data;
    DpPlan plan = plan_dpsgd(d_, data.size(), tr.recipe().batch_size, tr.recipe().epochs);
    dp_ = std::make_unique<DpTrainer>(tr, d_, plan, seed_, s_);
    char line[200];
    std::snprintf(line, sizeof line, "%s: DP-SGD q %.5g, %lld steps, sigma %.5g, C %g, K %lld -> epsilon %.4g (%s, delta %g)",
                  name.c_str(), plan.sample_rate, (long long)plan.steps, plan.noise_multiplier, d_.clip_norm,
                  (long long)d_.augmult, plan.epsilon, d_.accountant.c_str(), d_.delta);
    log(line);
    if (!plan.note.empty()) log(name + ": " + plan.note);
  }
  EpochStats train_epoch(Trainer&, TrainingSource&, int epoch, const std::function<void(const TrainProgress&)>& progress,
                         double interval_s) override {
    return dp_->train_epoch(*data_, epoch, progress, interval_s);  // Poisson batches of the private set itself
  }
  std::map<std::string, Tensor> checkpoint_state() const override { return dp_->state(); }
  void load_checkpoint_state(const std::string& path) override { dp_->load_state(path); }
  // With the EMA, the EMA parameters are evaluated, queried and saved.
  void finish_training(Trainer&) override { dp_->finish(); }
  void add_metrics(nlohmann::json& m, const TrainState& st, double train_s) const override {
    double images = 0;  // Poisson batches of K copies: count the images each epoch really trained on
    for (const EpochStats& e : st.history) images += e.images_per_s * e.seconds;
    m["images_per_s"] = train_s > 0 ? images / train_s : 0.0;
    m["dpsgd"] = dp_->metrics_json();
  }

 private:
  DpsgdSettings d_;
  uint64_t seed_;
  Stream& s_;
  const DeviceData* data_ = nullptr;
  std::unique_ptr<DpTrainer> dp_;
};

class Dpsgd final : public Paradigm {
 public:
  std::string name() const override { return "dpsgd"; }
  std::string description() const override { return "DP-SGD training (per-example clipping, Gaussian noise)"; }
  ParadigmTests tests() const override {
    return {"DpsgdConfig.BadSettingsNameTheirKey", "SpTrainDpsgd.TrainsRecordsPrivacyAndResumesToTheSameBytes",
            "ParadigmReports.DpsgdSectionStatesTheGuarantee", "configs/dpsgd_small_cpu.json"};
  }
  std::vector<std::string> config_sections() const override { return {"dpsgd"}; }
  void read_config(cfg::Fields& root, RunConfig& c, cfg::Errors& errors, nlohmann::json& out) const override {
    read_dpsgd_config(root, c, errors, out);
  }
  std::unique_ptr<ShadowJob> prepare_shadow(const ExperimentRun& run, int k, data::TrainingSet&, Stream& s,
                                            ProgressPrinter*) const override {
    return std::make_unique<DpShadowJob>(run.cfg.settings<DpsgdSettings>(), shadow_seed(run.cfg.seed, k), s);
  }

  ojson summarize(const std::vector<audit::ShadowEntry>& shadows) const override {
    std::vector<double> eps;
    ojson first;
    for (const audit::ShadowEntry& e : shadows) {
      if (e.state != audit::ShadowState::done || !e.metrics.contains("dpsgd") || !e.metrics["dpsgd"].is_object())
        continue;
      const nlohmann::json& d = e.metrics["dpsgd"];
      eps.push_back(d.value("epsilon", double(NAN)));
      if (first.is_null()) first = ojson::parse(d.dump());
    }
    if (eps.empty()) return nullptr;
    ojson j = {{"epsilon", audit::stats_json(eps, true)}};
    for (const char* key : {"delta", "accountant", "noise_multiplier", "clip_norm", "sample_rate", "steps", "augmult",
                            "ema_decay"})
      if (first.contains(key)) j[key] = first[key];
    return j;
  }
  void report_section(audit::ReportDoc& d, const ojson& s) const override {
    d.heading("Differential privacy (DP-SGD)");
    if (!s.contains("dpsgd")) {
      d.paragraph("No finished shadow model has recorded its privacy parameters yet.");
      return;
    }
    const ojson& p = s["dpsgd"];
    auto text = [&](const char* key) { return p.contains(key) ? (p[key].is_string() ? p[key].get<std::string>() : p[key].dump()) : std::string("-"); };
    d.paragraph("Every model is (ε, δ)-differentially private with ε " +
                audit::format_number("%.4g", audit::summary_number(p["epsilon"], "mean")) + " at δ " + text("delta") +
                " (" + text("accountant") + " accountant): a membership-inference attack's TPR at FPR α can be at "
                "most e^ε α + δ.");
    d.table({"noise multiplier σ", "clip norm C", "sampling rate q", "steps", "augmult K", "EMA decay"},
            {{text("noise_multiplier"), text("clip_norm"), text("sample_rate"), text("steps"), text("augmult"),
              text("ema_decay")}});
  }
  std::string comparison_heading() const override { return "DP ε"; }
  std::string comparison_cell(const ojson& s) const override {
    if (!s.contains("dpsgd")) return "-";
    return audit::format_number("%.3g", audit::summary_number(s["dpsgd"]["epsilon"], "mean"));
  }
};

SP_REGISTER_PARADIGM(Dpsgd);

}  // namespace
}  // namespace sp::dpsgd
