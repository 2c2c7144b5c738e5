// Paradigm "distill": each shadow distils a synthetic set from its private set D_k with DC, DSA or DM
// (distill_shadow.h) and trains the audited model only on it (per-sample DSA or no augmentation, the recipe's
// optimiser and schedule; the momentum restarts at each multistep milestone as upstream's evaluation
// re-creates its optimiser). Outputs: the [S, M] group file for sp_lira --groups (IN canaries used as initial
// images / IN canaries not used: paper Table 3), shadow 0's initial and distilled grids, the distillation
// time and the share of IN canaries among the initial images (summary, report, comparison column). Tested by
// the tests it declares below.
#include <filesystem>
#include <set>

#include "data/atomic_file.h"
#include "data/query_views.h"
#include "data/json_read.h"
#include "paradigms/distill/augmented_source.h"
#include "paradigms/distill/canary_view.h"
#include "paradigms/distill/trajectory_setup.h"
#include "paradigms/engine/experiment_run.h"
#include "paradigms/engine/loss.h"
#include "paradigms/distill/distill_config.h"
#include "paradigms/distill/distill_shadow.h"
#include "paradigms/distill/loss_plot.h"
#include "data/file_util.h"
#include "paradigms/engine/shadow_groups.h"
#include "paradigms/paradigm.h"

namespace fs = std::filesystem;

namespace sp::distill {
namespace {

constexpr const char* kGroupsFile = "distill_groups.npy";

class DistillShadowJob final : public ShadowJob {
 public:
  DistillShadowJob(ShadowDistillation d, const DistillConfig& c, std::set<int> restart_epochs, const ExperimentRun& run,
                   int k, Stream& s)
      : d_(std::move(d)), c_(c), restart_(std::move(restart_epochs)), run_(run), k_(k), s_(s) {
    space_.norm = run.cfg.recipe.augment_cfg.norm;
    if (d_.zca) space_.zca = d_.zca->to(s.device(), s);
  }
  int64_t train_size(const DeviceData&) const override { return d_.set.images.size(0); }
  // Trajectory matching's student steps used the learned step size: the audited model trains with it.
  void adjust_recipe(TrainRecipe& r) const override {
    if (d_.syn_lr > 0) r.schedule.base_lr = d_.syn_lr;
  }
  void start(Trainer& tr, const DeviceData&, const std::string& name, const Log& log) override {
    if (space_.zca) {
      const InputSpace* sp = &space_;
      tr.set_input_map([sp](Stream& s, const Tensor& x) { return sp->from_normalized(s, x); });
    }
    if (d_.set.soft.defined()) tr.set_loss(std::make_unique<SoftCrossEntropy>());
    if (d_.syn_lr > 0 || space_.zca || d_.set.soft.defined()) {
      char line[240];
      char rate[64] = "";
      if (d_.syn_lr > 0) std::snprintf(rate, sizeof rate, " at the learned step size %.4g", d_.syn_lr);
      std::snprintf(line, sizeof line, "%s: training on %lld synthetic images%s%s%s", name.c_str(),
                    (long long)d_.set.images.size(0), rate, d_.set.soft.defined() ? ", soft labels" : "",
                    space_.zca ? ", ZCA-whitened inputs" : "");
      log(line);
    }
  }
  std::unique_ptr<TrainingSource> source(Trainer&, const DeviceData&, uint64_t seed) override {
    return std::make_unique<DsaImageSource>(s_, d_.set.images, d_.set.soft.defined() ? d_.set.soft : d_.set.labels, seed,
                                            c_.train_augment == TrainAugment::dsa ? c_.strategy
                                                                                  : std::vector<dsa::Group>{});
  }
  EpochStats train_epoch(Trainer& tr, TrainingSource& source, int epoch,
                         const std::function<void(const TrainProgress&)>& progress, double interval_s) override {
    if (restart_.count(epoch))  // upstream builds a new optimiser when it lowers the rate: momentum restarts
      for (auto& [key, t] : tr.optimizer().state())
        if (key != "step") t.zero_(s_);
    return tr.train_epoch(source, epoch, progress, interval_s);
  }
  void finish_training(Trainer& tr) override { canaries_ = write_canary_view(tr); }
  void add_metrics(nlohmann::json& m, const TrainState&, double) const override {
    m["seconds"]["distill"] = d_.seconds;
    m["distill"] = d_.metrics;
    if (d_.syn_lr > 0) m["distill"]["syn_lr"] = d_.syn_lr;
    m["distill"]["canary_predictions"] = canaries_;
  }

 private:
  // canaries.json of this shadow (canary_view.h); returns the counts.
  nlohmann::json write_canary_view(Trainer& tr) const {
    const data::AuditSet& audit = run_.exp.audit;
    CanaryInputs in;
    for (int64_t j = 0; j < audit.size(); ++j) {
      if (!run_.exp.membership.in(k_, j)) continue;
      in.audit_positions.push_back(j);
      in.indices.push_back(audit.indices[size_t(j)]);
      in.true_labels.push_back(audit.true_labels[size_t(j)]);
      in.training_labels.push_back(audit.labels[size_t(j)]);
    }
    const int64_t m = int64_t(in.indices.size());
    Tensor syn = d_.set.images.to(s_.device(), s_);
    {
      Tape t(s_);
      t.set_recording(false);
      const int64_t n = syn.size(0), B = 500;
      std::vector<Tensor> parts;
      Tensor z_all;
      for (int64_t lo = 0; lo < n; lo += B) {
        Tensor z = t.value(tr.model().forward(t, t.leaf(tr.theta()), tr.buffers(), t.leaf(syn.narrow(0, lo, std::min(B, n - lo))), false));
        if (!z_all.defined()) z_all = Tensor::empty({n, z.size(1)}, DType::f32, s_);
        z_all.narrow(0, lo, z.size(0)).copy_(z.to(DType::f32, s_), s_);
        t.clear();
      }
      in.synthetic_logits = z_all.to(Device::cpu(), s_).contiguous();
    }
    in.synthetic_images = d_.set.images;
    in.synthetic_labels = d_.set.labels.to_vector<int64_t>();
    in.synthetic_source = d_.init_source;
    if (m > 0) {
      Tensor ids = Tensor::from_vector(in.indices, {m}).to(s_.device(), s_);
      in.canary_logits = tr.predict(run_.train, ids).to(DType::f32, s_).to(Device::cpu(), s_).contiguous();
      Tensor x = data::normalize_batch(s_, run_.train.images, ids, space_.norm, DType::f32);
      in.canary_images = space_.from_normalized(s_, x).to(Device::cpu(), s_).contiguous();
    }
    CanaryCounts counts;
    nlohmann::json doc = canary_view(in, counts);
    write_file_atomic(run_.exp.shadow_dir(k_) + "/canaries.json", doc.dump(1) + "\n");
    return doc["counts"];
  }

  ShadowDistillation d_;
  DistillConfig c_;
  std::set<int> restart_;
  const ExperimentRun& run_;
  int k_;
  Stream& s_;
  InputSpace space_;
  nlohmann::json canaries_ = nlohmann::json::object();
};

std::string used_text(const audit::ojson& c) {
  return std::to_string(c.value("in_canaries_init", int64_t(0))) + " / " + std::to_string(c.value("in_canaries", int64_t(0))) +
         " (" + audit::percent_text(audit::summary_number(c, "in_canaries_init_fraction"), 1) + ")";
}

class Distill final : public Paradigm {
 public:
  std::string name() const override { return "distill"; }
  std::string description() const override {
    return "training on a synthetic set distilled from the private set (DC, DSA, DM, MTT, DATM)";
  }
  ParadigmTests tests() const override {
    return {"DistillConfig.MistakesNameTheirKeyPaths", "DistillShadow.SpTrainDistilsEachPrivateSetAndResumes",
            "DistillShadow.AuditReportShowsGroupsAndGrids", "configs/distill_small_cpu.json"};
  }
  std::vector<std::string> config_sections() const override { return {"distill"}; }
  void read_config(cfg::Fields& root, RunConfig& c, cfg::Errors&, nlohmann::json& out) const override {
    DistillConfig dc;
    read_distill(root.object("distill"), c.model.num_classes, dc, out["distill"]);
    c.query_views = distill_query_views(c, dc);
    out["audit"]["query_views"] = data::query_views_name(c.query_views);
    c.paradigm_settings = dc;
  }
  void check_experiment(const ExperimentRun& run) const override { check_distill_experiment(run); }
  std::unique_ptr<ShadowJob> prepare_shadow(const ExperimentRun& run, int k, data::TrainingSet& ts, Stream& s,
                                            ProgressPrinter* progress) const override {
    const DistillConfig& c = run.cfg.settings<DistillConfig>();
    std::set<int> restart;
    if (c.restart_optimizer_at_milestones && run.cfg.schedule.kind == ScheduleKind::multistep)
      for (int64_t m : run.cfg.schedule.milestones) restart.insert(int(m));
    return std::make_unique<DistillShadowJob>(distill_shadow(run, k, ts, s, progress), c, std::move(restart), run, k, s);
  }

  std::vector<std::string> finish_experiment(const std::string& dir, const RunConfig& cfg) const override {
    const bool had = fs::exists(dir + "/" + kGroupsFile);
    std::string groups = write_groups_when_complete(dir, cfg.num_shadows, kGroupsFile);
    if (groups.empty() || had) return {};
    return {"wrote " + groups + " (sp_lira --groups: 1 = IN and an initial image, 2 = IN but not)"};
  }
  std::string lira_groups(const std::string& dir) const override {
    return fs::exists(dir + "/" + kGroupsFile) ? dir + "/" + kGroupsFile : "";
  }
  std::string group_name(const std::string& key) const override {
    if (key == std::to_string(kGroupFirst)) return "IN, an initial image (" + key + ")";
    if (key == std::to_string(kGroupSecond)) return "IN, not an initial image (" + key + ")";
    return key;
  }
  std::string groups_note() const override {
    return "Members: the IN canaries of each group (group 1: drawn as an initial image of the synthetic set; "
           "group 2: in the private set only); non-members: a random half of the OUT (model, canary) pairs each, so "
           "both groups are attacked against the same kind of non-member (paper Table 3).";
  }
  std::vector<audit::ReportImage> report_images(const RunConfig& cfg, const std::string& dir) const override {
    std::vector<audit::ReportImage> out;
    const std::string shadow = dir + "/shadow/0/";
    if (!fs::exists(shadow + "synthetic.safetensors")) return out;
    fs::create_directories(dir + "/images");
    std::vector<LossCurve> curves;
    for (int k = 0; k < cfg.num_shadows; ++k) {
      const std::string rec = dir + "/shadow/" + std::to_string(k) + "/distill.json";
      if (!fs::exists(rec)) continue;
      const std::vector<uint8_t> bytes = data::read_file_bytes(rec);
      nlohmann::json j = data::parse_json_or_discarded(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
      if (!j.is_object() || !j.contains("loss_curve") || !j["loss_curve"].is_array()) continue;
      LossCurve c{"shadow " + std::to_string(k), {}};
      for (const auto& p : j["loss_curve"])
        if (p.is_array() && p.size() == 2 && p[0].is_number() && p[1].is_number()) c.points.emplace_back(p[0].get<double>(), p[1].get<double>());
      if (!c.points.empty()) curves.push_back(std::move(c));
    }
    if (!curves.empty() && curves.front().points.size() > 1) {
      if (!write_loss_plot(dir + "/images/distill_loss", curves, "distillation loss (mean per class and step)").empty())
        out.push_back({"images/distill_loss.png", "Distillation loss of every shadow over the iterations",
                       "images/distill_loss.svg"});
    }
    const std::pair<const char*, const char*> files[] = {
        {"init.png", "Shadow 0's initial images, one row per class (IN canaries framed in red)"},
        {"synthetic.png", "Shadow 0's distilled images, one row per class, initialised from the grid above"},
        {"init_vs_synthetic.png", "Shadow 0, per class row: the initial images (IN canaries framed) beside the "
                                  "distilled images they became"}};
    for (const auto& [file, caption] : files) {
      const std::string rel = std::string("images/distill_") + file;
      std::error_code ec;
      fs::copy_file(shadow + file, dir + "/" + rel, fs::copy_options::overwrite_existing, ec);
      if (!ec) out.push_back({rel, caption});
    }
    return out;
  }

  ojson summarize(const std::vector<audit::ShadowEntry>& shadows) const override {
    int64_t in = 0, used = 0, flipped = 0, true_label = 0, other = 0, skipped = 0;
    bool have_predictions = false;
    std::vector<double> per_shadow, seconds, final_loss, syn_lr, expert_seconds;
    ojson first;
    for (const audit::ShadowEntry& e : shadows) {
      if (e.state != audit::ShadowState::done || !e.metrics.contains("distill") || !e.metrics["distill"].is_object())
        continue;
      const nlohmann::json& c = e.metrics["distill"];
      if (first.is_null()) first = {{"method", c.value("method", "")}, {"ipc", c.value("ipc", int64_t(0))}, {"init", c.value("init", "")}};
      int64_t i = c.value("in_canaries", int64_t(0)), u = c.value("in_canaries_init", int64_t(0));
      in += i;
      used += u;
      if (i > 0) per_shadow.push_back(double(u) / double(i));
      seconds.push_back(c.value("seconds", 0.0));
      if (c.contains("final_loss") && c["final_loss"].is_number()) final_loss.push_back(c["final_loss"].get<double>());
      if (c.contains("syn_lr") && c["syn_lr"].is_number()) syn_lr.push_back(c["syn_lr"].get<double>());
      if (c.contains("expert_seconds") && c["expert_seconds"].is_number()) expert_seconds.push_back(c["expert_seconds"].get<double>());
      skipped += c.value("threshold_skipped_iterations", int64_t(0));
      if (c.contains("canary_predictions") && c["canary_predictions"].is_object() && c["canary_predictions"].contains("flipped")) {
        const nlohmann::json& p = c["canary_predictions"];
        have_predictions = true;
        flipped += p.value("flipped", int64_t(0));
        true_label += p.value("true", int64_t(0));
        other += p.value("other", int64_t(0));
      }
    }
    if (seconds.empty()) return nullptr;
    ojson s = first;
    s["in_canaries"] = in;
    s["in_canaries_init"] = used;
    s["in_canaries_init_fraction"] = in > 0 ? audit::number_or_null(double(used) / double(in)) : ojson(nullptr);
    s["init_fraction_per_shadow"] = audit::stats_json(per_shadow, true);
    s["distill_seconds"] = audit::stats_json(seconds, false);
    s["final_loss"] = audit::stats_json(final_loss, false);
    if (have_predictions)
      s["canary_predictions"] = {{"flipped", flipped}, {"true", true_label}, {"other", other}};
    if (!syn_lr.empty()) {
      s["syn_lr"] = audit::stats_json(syn_lr, false);
      s["expert_seconds"] = audit::stats_json(expert_seconds, false);
      s["threshold_skipped_iterations"] = skipped;
    }
    return s;
  }
  void report_section(audit::ReportDoc& d, const ojson& s) const override {
    d.heading("Dataset distillation");
    if (!s.contains("distill")) {
      d.paragraph("No finished shadow model has recorded its distillation yet.");
      return;
    }
    const ojson& c = s["distill"];
    d.paragraph("Method " + c.value("method", std::string("?")) + ", " + std::to_string(c.value("ipc", int64_t(0))) +
                " images per class, init " + c.value("init", std::string("?")) + "; distillation " +
                audit::format_number("%.1f", audit::summary_number(c.value("distill_seconds", ojson::object()), "mean")) +
                " s per shadow (mean), final loss " +
                audit::format_number("%.4g", audit::summary_number(c.value("final_loss", ojson::object()), "mean")) +
                ". IN canaries among the initial images: " + used_text(c) +
                ". The paper finds that canaries used for the initialisation leak while the others are near chance "
                "(the two groups under Leakage by group).");
    if (c.contains("syn_lr"))
      d.paragraph("Trajectory matching: expert training " +
                  audit::format_number("%.1f", audit::summary_number(c.value("expert_seconds", ojson::object()), "mean")) +
                  " s per shadow (mean); learned step size " +
                  audit::format_number("%.4g", audit::summary_number(c.value("syn_lr", ojson::object()), "mean")) +
                  " (mean over shadows), with which the audited model trains; updates skipped by the loss threshold: " +
                  std::to_string(c.value("threshold_skipped_iterations", int64_t(0))) + ".");
    if (c.contains("canary_predictions")) {
      const ojson& p = c["canary_predictions"];
      const int64_t f = p.value("flipped", int64_t(0)), t = p.value("true", int64_t(0)), o = p.value("other", int64_t(0));
      const double n = double(std::max<int64_t>(1, f + t + o));
      d.paragraph("What the final models predict for their IN canaries (all shadows; per canary with its nearest "
                  "synthetic image in shadow/<k>/canaries.json):");
      d.table({"flipped (training) label", "true label", "another label"},
              {{std::to_string(f) + " (" + audit::percent_text(double(f) / n, 1) + ")",
                std::to_string(t) + " (" + audit::percent_text(double(t) / n, 1) + ")",
                std::to_string(o) + " (" + audit::percent_text(double(o) / n, 1) + ")"}});
      d.paragraph("A model that predicts a canary's true label has not memorised its flipped label, and LiRA on "
                  "mislabeled canaries then finds little (paper Fig. 7).");
    }
  }
  std::string comparison_heading() const override { return "IN canaries in the init"; }
  std::string comparison_cell(const ojson& s) const override { return s.contains("distill") ? used_text(s["distill"]) : "-"; }
};

SP_REGISTER_PARADIGM(Distill);

}  // namespace
}  // namespace sp::distill
