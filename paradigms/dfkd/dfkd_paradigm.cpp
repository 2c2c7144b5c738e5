// Paradigm "dfkd": data-free knowledge distillation. Each shadow's student never sees a private image; it learns
// from teacher k (trained on D_k with its canaries: teacher.h) through images a generator makes by inverting the
// teacher's BatchNorm statistics (dfkd_shadow.h). The student is the audited model. Experiment outputs: the
// teachers' own LiRA results (teacher_lira/, so the report sets the student's leakage beside its teacher's on
// the same canaries), the Fig. 9 distance plot over every shadow, shadow 0's memory bank by teacher label; the
// summary and report add teacher accuracy, per-phase cost and the distance medians. Tested by the tests it
// declares below.
#include <filesystem>

#include "attacks/lira_run.h"
#include "data/file_util.h"
#include "paradigms/dfkd/dfkd_config.h"
#include "paradigms/dfkd/dfkd_shadow.h"
#include "paradigms/dfkd/logit_distance.h"
#include "paradigms/dfkd/teacher.h"
#include "paradigms/engine/shadow_metrics.h"
#include "paradigms/paradigm.h"

namespace fs = std::filesystem;

namespace sp::dfkd {
namespace {

constexpr const char* kTeacherLira = "teacher_lira";

std::string teacher_dir_of(const RunConfig& cfg, const std::string& dir) {
  return teacher_experiment(cfg, cfg.settings<DfkdConfig>(), dir).dir;
}

bool all_teachers_done(const std::string& tdir, int n) {
  for (int k = 0; k < n; ++k)
    if (!shadow_finished(tdir + "/shadow/" + std::to_string(k))) return false;
  return true;
}

std::vector<double> numbers(const nlohmann::json& a) {
  std::vector<double> v;
  if (a.is_array())
    for (const auto& x : a)
      if (x.is_number()) v.push_back(x.get<double>());
  return v;
}

// The Fig. 9 distances of the finished shadows (`done` by index), pooled: IN canaries, OUT canaries, clean images.
std::vector<DistanceGroup> pooled_distances(const std::string& dir, const std::vector<int>& done) {
  std::vector<DistanceGroup> g = {{"IN canaries", {}}, {"OUT canaries", {}}, {"clean training images", {}}};
  for (int k : done) {
    const std::string path = dir + "/shadow/" + std::to_string(k) + "/logit_distances.json";
    if (!fs::exists(path)) continue;
    nlohmann::json j = cfg::read_json_object(path);
    std::vector<double> d = numbers(j["audit_distance"]);
    const nlohmann::json& in = j["audit_in"];
    SP_CHECK(in.is_array() && in.size() == d.size(), path, ": audit_in and audit_distance differ in length");
    for (size_t i = 0; i < d.size(); ++i) g[in[i].get<int>() ? 0 : 1].values.push_back(d[i]);
    for (double v : numbers(j["clean_distance"])) g[2].values.push_back(v);
  }
  return g;
}

class Dfkd final : public Paradigm {
 public:
  std::string name() const override { return "dfkd"; }
  std::string description() const override {
    return "a student distilled from the undefended model through generated images only (data-free KD)";
  }
  ParadigmTests tests() const override {
    return {"DfkdConfig.MistakesNameTheirKeyPaths", "DfkdShadow.SpTrainDistilsFromTeachersAndResumes",
            "DfkdShadow.AuditReportShowsTeacherAndDistances", "configs/dfkd_small_cpu.json"};
  }
  std::vector<std::string> config_sections() const override { return {"dfkd"}; }
  void read_config(cfg::Fields& root, RunConfig& c, cfg::Errors& errors, nlohmann::json& out) const override {
    DfkdConfig dc;
    read_dfkd(root, c, out, dc, errors, out["dfkd"]);
    c.paradigm_settings = dc;
  }
  void check_experiment(const ExperimentRun& run) const override {
    check_teachers(run, run.cfg.settings<DfkdConfig>());
  }
  std::unique_ptr<ShadowJob> prepare_shadow(const ExperimentRun& run, int k, data::TrainingSet& ts, Stream& s,
                                            ProgressPrinter* progress) const override {
    return prepare_dfkd_shadow(run, k, run.cfg.settings<DfkdConfig>(), ts, s, progress);
  }

  // The teachers' LiRA results, once every teacher exists (the same attacks sp_audit runs on the students).
  std::vector<std::string> finish_experiment(const std::string& dir, const RunConfig& cfg) const override {
    const std::string tdir = teacher_dir_of(cfg, dir), out = dir + "/" + kTeacherLira;
    if (fs::exists(out + "/results.json") || !all_teachers_done(tdir, cfg.num_shadows)) return {};
    lira::LiraConfig lc;
    lc.dir = tdir;
    lc.out_dir = out;
    lc.bootstrap = 200;
    const std::string error = lira::run_lira_falling_back(lc);
    if (error.empty()) return {"attacked the " + std::to_string(cfg.num_shadows) + " teachers of " + tdir + ": " + out + "/results.json"};
    return {"the teachers could not be attacked: " + error};
  }

  std::vector<audit::ReportImage> report_images(const RunConfig& cfg, const std::string& dir) const override {
    std::vector<audit::ReportImage> out;
    fs::create_directories(dir + "/images");
    if (fs::exists(dir + "/shadow/0/bank.png")) {
      fs::copy_file(dir + "/shadow/0/bank.png", dir + "/images/dfkd_bank_shadow0.png", fs::copy_options::overwrite_existing);
      out.push_back({"images/dfkd_bank_shadow0.png",
                     "Shadow 0's memory bank: generated images, row k holding images its teacher labels k"});
    }
    std::vector<int> done;
    for (int k = 0; k < cfg.num_shadows; ++k)
      if (shadow_finished(dir + "/shadow/" + std::to_string(k))) done.push_back(k);
    const std::vector<DistanceGroup> g = pooled_distances(dir, done);
    if ((!g[0].values.empty() || !g[2].values.empty()) &&
        !write_distance_plot(dir + "/images/dfkd_logit_distances", g, "nearest generated image, teacher logits").empty())
      out.push_back({"images/dfkd_logit_distances.png",
                     "Paper Fig. 9: for each audit sample and clean training image, the distance in its teacher's "
                     "logit space to the nearest generated image (empirical CDF over every finished shadow)",
                     "images/dfkd_logit_distances.svg"});
    return out;
  }

  ojson summarize_experiment(const std::string& dir, const std::vector<audit::ShadowEntry>& shadows) const override {
    std::vector<double> teacher_acc, best_epoch, synth_s, student_s, teacher_s, bank;
    std::vector<int> done;
    std::string method;
    for (const audit::ShadowEntry& e : shadows) {
      if (e.state != audit::ShadowState::done || !e.metrics.contains("dfkd")) continue;
      const nlohmann::json& m = e.metrics["dfkd"];
      method = m.value("method", std::string());
      teacher_acc.push_back(m.value("teacher_test_accuracy", double(NAN)));
      best_epoch.push_back(m.value("best_epoch", double(NAN)));
      bank.push_back(m.value("bank_images", double(NAN)));
      if (m.contains("seconds")) {
        synth_s.push_back(m["seconds"].value("synthesis", double(NAN)));
        student_s.push_back(m["seconds"].value("student", double(NAN)));
        teacher_s.push_back(m["seconds"].value("teacher", double(NAN)));
      }
      done.push_back(e.k);
    }
    if (teacher_acc.empty()) return nullptr;
    const std::vector<DistanceGroup> g = pooled_distances(dir, done);
    ojson s = {{"method", method},
               {"teacher_test_accuracy", audit::stats_json(teacher_acc, true)},
               {"best_epoch", audit::stats_json(best_epoch, false)},
               {"bank_images", audit::stats_json(bank, false)},
               {"seconds_teacher", audit::stats_json(teacher_s, false)},
               {"seconds_synthesis", audit::stats_json(synth_s, false)},
               {"seconds_student", audit::stats_json(student_s, false)},
               {"median_distance_in_canaries", audit::number_or_null(audit::median(g[0].values))},
               {"median_distance_out_canaries", audit::number_or_null(audit::median(g[1].values))},
               {"median_distance_clean", audit::number_or_null(audit::median(g[2].values))}};
    const std::string tl = dir + "/" + kTeacherLira + "/results.json";
    if (fs::exists(tl)) {
      nlohmann::json r = cfg::read_json_object(tl);
      if (r.contains("attacks")) s["teacher_privacy"] = audit::privacy_entries(r["attacks"]);
    }
    return s;
  }

  void report_section(audit::ReportDoc& d, const ojson& summary) const override {
    d.heading("Data-free knowledge distillation");
    if (!summary.contains("dfkd")) {
      d.paragraph("No finished shadow model has recorded its distillation yet.");
      return;
    }
    const ojson& s = summary["dfkd"];
    auto mean = [&](const char* key) { return audit::summary_number(s.value(key, ojson::object()), "mean"); };
    d.paragraph("Method " + s.value("method", std::string("?")) + ". Each student learned only from generated images (" +
                audit::format_number("%.0f", mean("bank_images")) +
                " per shadow on average) labelled by its teacher, the undefended model of the same shadow index. "
                "Teacher test accuracy " + audit::percent_text(mean("teacher_test_accuracy")) + " (mean); the students' "
                "accuracy is in the utility table. As the reference does, each student is the epoch with the best "
                "test accuracy (mean epoch " + audit::format_number("%.1f", mean("best_epoch")) +
                "): model selection on test data, which flatters the students' utility slightly.");
    std::vector<std::vector<std::string>> rows;
    if (s.contains("teacher_privacy") && summary.contains("privacy")) {
      for (auto it = s["teacher_privacy"].begin(); it != s["teacher_privacy"].end(); ++it) {
        const ojson student = summary["privacy"].value(it.key(), ojson::object());
        rows.push_back({it.key(), audit::percent_text(audit::summary_number(it.value(), "tpr_at_0.1%_fpr")),
                        audit::percent_text(audit::summary_number(student, "tpr_at_0.1%_fpr")),
                        audit::format_number("%.4f", audit::summary_number(it.value(), "auc")),
                        audit::format_number("%.4f", audit::summary_number(student, "auc"))});
      }
      d.paragraph("Leakage of the teachers and of their students on the same canaries (the teachers attacked with the "
                  "same LiRA over the teacher experiment's shadows):");
      d.table({"attack", "teacher TPR@0.1%FPR", "student TPR@0.1%FPR", "teacher AUC", "student AUC"}, rows);
    } else {
      d.paragraph("The teachers' own leakage appears here once every teacher exists and sp_audit has attacked them.");
    }
    d.paragraph("Distance in the teacher's logit space to the nearest generated image (median): IN canaries " +
                audit::format_number("%.3f", audit::summary_number(s, "median_distance_in_canaries")) +
                ", OUT canaries " + audit::format_number("%.3f", audit::summary_number(s, "median_distance_out_canaries")) +
                ", clean training images " + audit::format_number("%.3f", audit::summary_number(s, "median_distance_clean")) +
                ". The paper's argument (its Fig. 9) is that generated images, unlike the private data to the eye, "
                "come close to mislabeled canaries in this space, which carries the teacher's memorisation to the student.");
    d.paragraph("Cost per shadow (mean): teacher training " + audit::format_number("%.1f", mean("seconds_teacher")) +
                " s (0 when reused), synthesis " + audit::format_number("%.1f", mean("seconds_synthesis")) + " s, student " +
                audit::format_number("%.1f", mean("seconds_student")) + " s.");
  }
  std::string comparison_heading() const override { return "teacher TPR@0.1%FPR (online)"; }
  std::string comparison_cell(const ojson& s) const override {
    if (!s.contains("dfkd") || !s["dfkd"].contains("teacher_privacy")) return "-";
    const ojson& p = s["dfkd"]["teacher_privacy"];
    const std::string key = p.contains("online") ? "online" : p.begin().key();
    return audit::percent_text(audit::summary_number(p[key], "tpr_at_0.1%_fpr")) + " (" + key + ")";
  }
};

SP_REGISTER_PARADIGM(Dfkd);

}  // namespace
}  // namespace sp::dfkd
