// The "dpsgd" configuration section and the run plan (see dp_config.h).
#include "paradigms/dpsgd/dp_config.h"

#include <cmath>

#include "kernels/error.h"
#include "paradigms/config.h"
#include "paradigms/dpsgd/calibrate.h"

namespace sp::dpsgd {

double dp_epsilon(const std::string& accountant, double q, double sigma, int64_t steps, double delta) {
  if (accountant == "prv") return prv_epsilon({{q, sigma, steps}}, delta).upper;
  SP_CHECK(accountant == "rdp", "dpsgd.accountant: unknown accountant '", accountant, "' (rdp or prv)");
  return rdp_epsilon({{q, sigma, steps}}, delta).epsilon;
}

DpPlan plan_dpsgd(const DpsgdSettings& d, int64_t train_size, int64_t expected_batch, int epochs) {
  DpPlan p;
  p.train_size = train_size;
  SP_CHECK(train_size >= 1, "dpsgd: empty training set");
  p.sample_rate = double(expected_batch) / double(train_size);
  SP_CHECK(p.sample_rate > 0 && p.sample_rate <= 1, "recipe.batch_size: expected batch ", expected_batch, " over ",
           train_size, " training examples gives sampling rate q = ", p.sample_rate, ", which must be in (0, 1]");
  p.steps_per_epoch = std::max<int64_t>(1, int64_t(std::floor(1.0 / p.sample_rate + 1e-9)));
  p.steps = int64_t(epochs) * p.steps_per_epoch;
  SP_CHECK(p.steps >= 1, "recipe.epochs: ", epochs, " epochs give ", p.steps, " DP-SGD steps; at least 1 is needed");
  SP_CHECK(d.delta > 0 && d.delta < 1, "dpsgd.delta: ", d.delta, " must be in (0, 1)");
  SP_CHECK(d.clip_norm > 0 && std::isfinite(d.clip_norm), "dpsgd.clip_norm: ", d.clip_norm, " must be positive");
  SP_CHECK((d.noise_multiplier > 0) != (d.target_epsilon > 0),
           "dpsgd: give exactly one of noise_multiplier (> 0) and target_epsilon (> 0)");
  if (d.target_epsilon > 0) {
    Calibration c;
    try {
      c = d.accountant == "prv" ? calibrate_noise_prv(p.sample_rate, p.steps, d.delta, d.target_epsilon)
                                : calibrate_noise_rdp(p.sample_rate, p.steps, d.delta, d.target_epsilon);
    } catch (const Error& e) {
      SP_FAIL("dpsgd.target_epsilon: ", d.target_epsilon, " cannot be met with q = ", p.sample_rate, ", ", p.steps,
              " steps, delta = ", d.delta, ": ", e.what());
    }
    p.noise_multiplier = c.noise_multiplier;
    p.epsilon = c.epsilon;
    p.calibrated = true;
  } else {
    SP_CHECK(std::isfinite(d.noise_multiplier), "dpsgd.noise_multiplier: ", d.noise_multiplier,
             " must be finite");
    p.noise_multiplier = d.noise_multiplier;
    try {
      p.epsilon = dp_epsilon(d.accountant, p.sample_rate, p.noise_multiplier, p.steps, d.delta);
      if (d.accountant == "rdp")
        p.note = rdp_epsilon({{p.sample_rate, p.noise_multiplier, p.steps}}, d.delta).warning;
    } catch (const Error& e) {
      SP_FAIL("dpsgd.accountant: ", d.accountant, " cannot account for sigma = ", p.noise_multiplier, ", q = ",
              p.sample_rate, ", ", p.steps, " steps: ", e.what());
    }
  }
  return p;
}

nlohmann::json plan_json(const DpsgdSettings& d, const DpPlan& p) {
  return {{"epsilon", p.epsilon},
          {"delta", d.delta},
          {"accountant", d.accountant},
          {"noise_multiplier", p.noise_multiplier},
          {"noise_calibrated", p.calibrated},
          {"target_epsilon", d.target_epsilon > 0 ? nlohmann::json(d.target_epsilon) : nlohmann::json(nullptr)},
          {"clip_norm", d.clip_norm},
          {"sample_rate", p.sample_rate},
          {"expected_batch", p.expected_batch()},
          {"train_size", p.train_size},
          {"steps_per_epoch", p.steps_per_epoch},
          {"steps", p.steps},
          {"augmult", d.augmult},
          {"physical_batch", d.physical_batch},
          {"ema_decay", d.ema_decay},
          {"sampling", "poisson"},
          {"accountant_note", p.note}};
}

void read_dpsgd_config(cfg::Fields& root, RunConfig& c, cfg::Errors& errors, nlohmann::json& out) {
  cfg::Fields f = root.object("dpsgd");
  DpsgdSettings d;
  const double inf = std::numeric_limits<double>::infinity();
  d.clip_norm = f.number("clip_norm", 1.0, 0, inf);
  if (f.has("clip_norm") && !(d.clip_norm > 0)) f.error("clip_norm", "must be > 0");
  const bool has_sigma = f.has("noise_multiplier"), has_target = f.has("target_epsilon");
  if (has_sigma == has_target)
    f.error(has_sigma ? "noise_multiplier" : "target_epsilon",
            "give exactly one of noise_multiplier and target_epsilon");
  d.noise_multiplier = f.number("noise_multiplier", 0, -inf, inf);
  if (has_sigma && !(d.noise_multiplier > 0 && std::isfinite(d.noise_multiplier)))
    f.error("noise_multiplier", "sigma must be > 0, got " + std::to_string(d.noise_multiplier));
  d.target_epsilon = f.number("target_epsilon", 0, -inf, inf);
  if (has_target && !(d.target_epsilon > 0 && std::isfinite(d.target_epsilon)))
    f.error("target_epsilon", "must be > 0, got " + std::to_string(d.target_epsilon));
  d.delta = f.number("delta", 1e-5, -inf, inf);
  if (!(d.delta > 0 && d.delta < 1)) f.error("delta", "must be in (0, 1), got " + std::to_string(d.delta));
  d.accountant = f.string("accountant", "rdp", {"rdp", "prv"});
  d.augmult = f.integer("augmult", 1, 1, 1024);
  d.physical_batch = f.integer("physical_batch", 256, 1, 65535);
  d.ema_decay = f.number("ema_decay", 0, 0, 0.999999999);
  f.finish();
  out["dpsgd"] = {{"clip_norm", d.clip_norm}, {"delta", d.delta},         {"accountant", d.accountant},
                  {"augmult", d.augmult},     {"physical_batch", d.physical_batch}, {"ema_decay", d.ema_decay}};
  if (has_sigma) out["dpsgd"]["noise_multiplier"] = d.noise_multiplier;
  if (has_target) out["dpsgd"]["target_epsilon"] = d.target_epsilon;

  if (!c.model.name.empty()) {
    try {
      if (make_model(c.model)->has_batch_norm())
        errors.add("model.name", c.model.name + " uses batch norm, which DP-SGD cannot use (no per-sample "
                                                "gradients); use wrn16_4 or resnet18_gn");
    } catch (const Error&) {  // a bad width is reported by the model section
    }
  }
  // With a known training-set size, q and the calibration are checked now rather than at the first shadow. A
  // shadow trains on the non-audit samples and about half of the audit ones.
  const int64_t known = c.dataset.kind == "shapes10" ? c.dataset.n_train : c.train_subset;
  if (known > 0 && errors.empty() && c.num_audit < known) {
    try {
      plan_dpsgd(d, known - c.num_audit + c.num_audit / 2, c.recipe.batch_size, c.recipe.epochs);
    } catch (const Error& e) {
      std::string msg = e.what();
      size_t colon = msg.find(": ");
      errors.add(colon == std::string::npos ? "dpsgd" : msg.substr(0, colon),
                 colon == std::string::npos ? msg : msg.substr(colon + 2));
    }
  }
  c.paradigm_settings = d;
  c.floor_steps_per_epoch = true;  // floor(1 / q) Poisson-sampled steps per epoch
}

}  // namespace sp::dpsgd
