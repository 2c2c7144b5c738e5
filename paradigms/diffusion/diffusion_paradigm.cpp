// Paradigm "diffusion": each shadow's classifier trains only on images a class-conditional DDPM generated after
// being trained from scratch on that shadow's private set (diffusion_shadow.h). Beyond the paper, the shadow
// DDPMs are attacked themselves: their per-sample denoising losses on fixed queries (diffusion_scores.npy) are
// laid out as an sp_lira experiment under DIR/diffusion_lira/ (audit/labels.npy all 0, shadow/<k>/keep.npy, and
// shadow/<k>/logits.npy f32 [M, Q, 2] = [score, 0], whose logit statistic z_0 - z_1 is exactly the score) and
// attacked with the same LiRA, so the report sets the generator's leakage beside the classifier's on the same
// canaries. Tested by the tests it declares below.
#include <filesystem>

#include "attacks/lira_run.h"
#include "data/npy.h"
#include "paradigms/diffusion/diffusion_config.h"
#include "paradigms/diffusion/diffusion_shadow.h"
#include "paradigms/paradigm.h"

namespace fs = std::filesystem;

namespace sp::diffusion {
namespace {

constexpr const char* kDiffusionLira = "diffusion_lira";

std::string shadow_dir(const std::string& dir, int k) { return dir + "/shadow/" + std::to_string(k); }

// DIR/diffusion_lira/ from the shadows' statistics; false while a shadow's are missing.
bool write_lira_layout(const std::string& dir, int shadows) {
  for (int k = 0; k < shadows; ++k)
    if (!fs::exists(scores_path(shadow_dir(dir, k))) || !fs::exists(shadow_dir(dir, k) + "/keep.npy")) return false;
  const std::string out = dir + "/" + kDiffusionLira;
  int64_t M = -1;
  for (int k = 0; k < shadows; ++k) {
    npy::Reader r(scores_path(shadow_dir(dir, k)));
    SP_CHECK(r.dtype() == DType::f32 && r.shape().size() == 2, r.path(), ": expected f32 [M, Q] scores, found ",
             npy::shape_str(r.shape()));
    const int64_t m = r.shape()[0], q = r.shape()[1];
    SP_CHECK(M < 0 || m == M, r.path(), ": ", m, " audit samples, shadow 0 has ", M);
    M = m;
    std::vector<float> v = r.read_all<float>(), z(static_cast<size_t>(2 * m * q), 0.0f);
    for (int64_t i = 0; i < m * q; ++i) z[size_t(2 * i)] = v[size_t(i)];
    fs::create_directories(out + "/shadow/" + std::to_string(k));
    const int64_t shape[3] = {m, q, 2};
    npy::write(out + "/shadow/" + std::to_string(k) + "/logits.npy", DType::f32, shape, z.data());
    fs::copy_file(shadow_dir(dir, k) + "/keep.npy", out + "/shadow/" + std::to_string(k) + "/keep.npy",
                  fs::copy_options::overwrite_existing);
  }
  fs::create_directories(out + "/audit");
  std::vector<int64_t> zeros(static_cast<size_t>(std::max<int64_t>(M, 0)), 0);
  npy::write(out + "/audit/labels.npy", DType::i64, std::span<const int64_t>(&M, 1), zeros.data());
  return true;
}

class Diffusion final : public Paradigm {
 public:
  std::string name() const override { return "diffusion"; }
  std::string description() const override {
    return "a classifier trained only on images from a DDPM trained from scratch on the private set (img2img or class)";
  }
  ParadigmTests tests() const override {
    return {"DiffusionConfig.MistakesNameTheirKeyPaths", "DiffusionShadow.SpTrainGeneratesTrainsAndResumes",
            "DiffusionShadow.AuditReportShowsGeneratorLeakage", "configs/diffusion_small_cpu.json"};
  }
  std::vector<std::string> config_sections() const override { return {"diffusion"}; }
  void read_config(cfg::Fields& root, RunConfig& c, cfg::Errors& errors, nlohmann::json& out) const override {
    DiffusionConfig dc;
    read_diffusion(root, c, dc, errors, out["diffusion"]);
    c.paradigm_settings = dc;
  }
  void check_experiment(const ExperimentRun& run) const override { check_diffusion_experiment(run); }
  std::unique_ptr<ShadowJob> prepare_shadow(const ExperimentRun& run, int k, data::TrainingSet& ts, Stream& s,
                                            ProgressPrinter* progress) const override {
    return prepare_diffusion_shadow(run, k, ts, s, progress);
  }

  // The diffusion models' own LiRA, once every shadow has its statistics.
  std::vector<std::string> finish_experiment(const std::string& dir, const RunConfig& cfg) const override {
    const std::string out = dir + "/" + kDiffusionLira;
    if (fs::exists(out + "/results.json") || !write_lira_layout(dir, cfg.num_shadows)) return {};
    lira::LiraConfig lc;
    lc.dir = out;
    lc.out_dir = out;
    lc.bootstrap = 200;
    const std::string error = lira::run_lira_falling_back(lc);
    if (error.empty()) return {"attacked the " + std::to_string(cfg.num_shadows) + " shadow diffusion models: " + out + "/results.json"};
    return {"the diffusion models could not be attacked: " + error};
  }

  std::vector<audit::ReportImage> report_images(const RunConfig&, const std::string& dir) const override {
    std::vector<audit::ReportImage> out;
    const std::pair<const char*, const char*> files[] = {
        {"samples.png", "Shadow 0's generated images (the classifier's whole training set), one row per conditioning class"},
        {"pairs.png", "Shadow 0: IN canaries (top row) over their nearest generated images in pixel space; then OUT "
                      "canaries over theirs"}};
    fs::create_directories(dir + "/images");
    for (const auto& [file, caption] : files) {
      const std::string rel = std::string("images/diffusion_") + file;
      std::error_code ec;
      fs::copy_file(shadow_dir(dir, 0) + "/" + file, dir + "/" + rel, fs::copy_options::overwrite_existing, ec);
      if (!ec) out.push_back({rel, caption});
    }
    return out;
  }

  ojson summarize_experiment(const std::string& dir, const std::vector<audit::ShadowEntry>& shadows) const override {
    std::vector<double> loss, train_s, gen_s, train_ips, sample_ips, near_in, near_out, own, params, generated;
    std::string mode;
    for (const audit::ShadowEntry& e : shadows) {
      if (e.state != audit::ShadowState::done || !e.metrics.contains("diffusion")) continue;
      const nlohmann::json& m = e.metrics["diffusion"];
      mode = m.value("mode", std::string());
      auto num = [&](const nlohmann::json& j, const char* key) {
        return j.contains(key) && j[key].is_number() ? j[key].get<double>() : double(NAN);
      };
      loss.push_back(num(m, "final_loss"));
      params.push_back(num(m, "unet_parameters"));
      generated.push_back(num(m, "generated"));
      train_ips.push_back(num(m, "train_images_per_s"));
      sample_ips.push_back(num(m, "sample_images_per_s"));
      if (m.contains("seconds")) {
        train_s.push_back(num(m["seconds"], "train"));
        gen_s.push_back(num(m["seconds"], "generate"));
      }
      if (m.contains("memorization")) {
        near_in.push_back(num(m["memorization"], "median_nearest_in"));
        near_out.push_back(num(m["memorization"], "median_nearest_out"));
        own.push_back(num(m["memorization"], "median_own_output_in"));
      }
    }
    if (loss.empty()) return nullptr;
    ojson s = {{"mode", mode},
               {"unet_parameters", audit::stats_json(params, false)},
               {"final_loss", audit::stats_json(loss, false)},
               {"generated", audit::stats_json(generated, false)},
               {"seconds_train", audit::stats_json(train_s, false)},
               {"seconds_generate", audit::stats_json(gen_s, false)},
               {"train_images_per_s", audit::stats_json(train_ips, false)},
               {"sample_images_per_s", audit::stats_json(sample_ips, false)},
               {"median_nearest_in", audit::stats_json(near_in, false)},
               {"median_nearest_out", audit::stats_json(near_out, false)},
               {"median_own_output_in", audit::stats_json(own, false)}};
    const std::string rl = dir + "/" + kDiffusionLira + "/results.json";
    if (fs::exists(rl)) {
      nlohmann::json r = cfg::read_json_object(rl);
      if (r.contains("attacks")) s["generator_privacy"] = audit::privacy_entries(r["attacks"]);
    }
    return s;
  }

  void report_section(audit::ReportDoc& d, const ojson& summary) const override {
    d.heading("Diffusion-generated training data");
    if (!summary.contains("diffusion")) {
      d.paragraph("No finished shadow model has recorded its diffusion model yet.");
      return;
    }
    const ojson& s = summary["diffusion"];
    auto mean = [&](const char* key) { return audit::summary_number(s.value(key, ojson::object()), "mean"); };
    const bool img2img = s.value("mode", std::string()) == "img2img";
    d.paragraph(std::string("Each shadow trained a class-conditional DDPM (") +
                audit::format_number("%.2f", mean("unet_parameters") / 1e6) +
                " M parameters) from scratch on its private set, canaries with their flipped labels included, then " +
                (img2img ? "turned every private image into SDEdit outputs (image-to-image)"
                         : "generated images per class from noise with classifier-free guidance") +
                "; the audited classifier trained only on those " + audit::format_number("%.0f", mean("generated")) +
                " images and their conditioning labels. Final denoising loss " +
                audit::format_number("%.4f", mean("final_loss")) + " (mean over shadows).");
    std::vector<std::vector<std::string>> rows;
    if (s.contains("generator_privacy") && summary.contains("privacy")) {
      for (auto it = s["generator_privacy"].begin(); it != s["generator_privacy"].end(); ++it) {
        const ojson cls = summary["privacy"].value(it.key(), ojson::object());
        rows.push_back({it.key(), audit::percent_text(audit::summary_number(it.value(), "tpr_at_0.1%_fpr")),
                        audit::percent_text(audit::summary_number(cls, "tpr_at_0.1%_fpr")),
                        audit::format_number("%.4f", audit::summary_number(it.value(), "auc")),
                        audit::format_number("%.4f", audit::summary_number(cls, "auc"))});
      }
      d.paragraph("Leakage of the diffusion models themselves (LiRA on each audit sample's denoising loss at fixed "
                  "timesteps and noises, the same queries for every shadow) and of the classifiers trained on their "
                  "images, on the same canaries:");
      d.table({"attack", "diffusion model TPR@0.1%FPR", "classifier TPR@0.1%FPR", "diffusion model AUC",
               "classifier AUC"},
              rows);
    } else {
      d.paragraph("The diffusion models' own leakage appears here once every shadow has scored its audit samples and "
                  "sp_audit has attacked them.");
    }
    std::string mem = "Nearest generated image in pixel space (median RMS difference on the [0, 1] scale): IN canaries " +
                      audit::format_number("%.4f", mean("median_nearest_in")) + ", OUT canaries " +
                      audit::format_number("%.4f", mean("median_nearest_out")) + ".";
    if (img2img)
      mem += " An IN canary's own SDEdit outputs lie at " + audit::format_number("%.4f", mean("median_own_output_in")) +
             " from it (median; image-to-image generation starts from the private image, so this is how much of it "
             "survives the noising and denoising).";
    d.paragraph(mem + " A generated image closer to IN canaries than any is to OUT canaries is memorisation made visible.");
    d.paragraph("Cost per shadow (mean): UNet training " + audit::format_number("%.1f", mean("seconds_train")) + " s (" +
                audit::format_number("%.1f", mean("train_images_per_s")) + " images/s), generation " +
                audit::format_number("%.1f", mean("seconds_generate")) + " s (" +
                audit::format_number("%.2f", mean("sample_images_per_s")) + " images/s); the classifier's training is in "
                "the cost table.");
  }
  std::string comparison_heading() const override { return "diffusion model TPR@0.1%FPR (online)"; }
  std::string comparison_cell(const ojson& s) const override {
    if (!s.contains("diffusion") || !s["diffusion"].contains("generator_privacy")) return "-";
    const ojson& p = s["diffusion"]["generator_privacy"];
    const std::string key = p.contains("online") ? "online" : p.begin().key();
    return audit::percent_text(audit::summary_number(p[key], "tpr_at_0.1%_fpr")) + " (" + key + ")";
  }
};

SP_REGISTER_PARADIGM(Diffusion);

}  // namespace
}  // namespace sp::diffusion
