// sp_accountant's command line (see accountant_cli.h): given the sample rate q, noise multiplier sigma, step
// count T and delta it prints epsilon as JSON (RDP: with the best order; PRV: the upper bound as "epsilon" plus
// the lower bound and the estimate); with --target-epsilon instead of --noise-multiplier it prints the
// calibrated noise multiplier.
#include "paradigms/dpsgd/accountant_cli.h"

#include <CLI/CLI.hpp>
#include <cmath>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>

#include "kernels/error.h"
#include "paradigms/audit/exit_status.h"
#include "paradigms/dpsgd/calibrate.h"
#include "paradigms/dpsgd/prv_accountant.h"
#include "paradigms/dpsgd/rdp_accountant.h"

namespace sp::dpsgd {
namespace {

struct Args {
  double sample_rate = 0;
  std::optional<double> noise_multiplier;
  std::optional<double> target_epsilon;
  int64_t steps = 0;
  double delta = 0;
  std::string accountant = "rdp";
  double eps_error = 0.01;
  std::optional<double> delta_error;
  std::optional<double> tolerance;
};

// The range checks, phrased in terms of the command-line options; returns an empty string when all pass.
std::string validate(const Args& a) {
  auto fmt = [](const char* option, const char* rule, double v) {
    std::ostringstream os;
    os << option << " must be " << rule << ", got " << v;
    return os.str();
  };
  if (!(a.sample_rate > 0 && a.sample_rate <= 1)) return fmt("--sample-rate", "in (0, 1]", a.sample_rate);
  if (!(a.delta > 0 && a.delta < 1)) return fmt("--delta", "in (0, 1)", a.delta);
  if (a.steps < 1) return "--steps must be >= 1, got " + std::to_string(a.steps);
  if (a.noise_multiplier.has_value() == a.target_epsilon.has_value())
    return "give exactly one of --noise-multiplier and --target-epsilon";
  if (a.noise_multiplier && !(*a.noise_multiplier > 0 && std::isfinite(*a.noise_multiplier)))
    return fmt("--noise-multiplier", "positive and finite", *a.noise_multiplier);
  if (a.target_epsilon && !(*a.target_epsilon > 0 && std::isfinite(*a.target_epsilon)))
    return fmt("--target-epsilon", "positive and finite", *a.target_epsilon);
  if (!(a.eps_error > 0 && std::isfinite(a.eps_error))) return fmt("--eps-error", "positive", a.eps_error);
  if (a.delta_error && !(*a.delta_error > 0 && *a.delta_error < a.delta))
    return fmt("--delta-error", "in (0, delta)", *a.delta_error);
  if (a.tolerance && !(*a.tolerance > 0 && *a.tolerance < 1)) return fmt("--tolerance", "in (0, 1)", *a.tolerance);
  return {};
}

nlohmann::json run(const Args& a, std::ostream& err) {
  nlohmann::json out;
  out["accountant"] = a.accountant;
  out["sample_rate"] = a.sample_rate;
  out["steps"] = a.steps;
  out["delta"] = a.delta;
  PrvOptions prv;
  prv.eps_error = a.eps_error;
  prv.delta_error = a.delta_error.value_or(0.0);
  const bool use_prv = a.accountant == "prv";

  double sigma = 0;
  if (a.target_epsilon) {
    CalibrationOptions opts;
    // PRV evaluations cost ~0.1-1 s each and carry eps_error = 0.01 anyway: a coarser sigma tolerance suffices.
    opts.rel_tol = a.tolerance.value_or(use_prv ? 1e-4 : 1e-6);
    Calibration c;
    try {
      c = use_prv ? calibrate_noise_prv(a.sample_rate, a.steps, a.delta, *a.target_epsilon, opts, prv)
                  : calibrate_noise_rdp(a.sample_rate, a.steps, a.delta, *a.target_epsilon, opts);
    } catch (const sp::Error& e) {
      std::ostringstream os;
      os << "--target-epsilon " << *a.target_epsilon << ": " << e.what();
      throw sp::Error(os.str());
    }
    out["target_epsilon"] = *a.target_epsilon;
    out["evaluations"] = c.evaluations;
    sigma = c.noise_multiplier;
  } else {
    sigma = *a.noise_multiplier;
  }
  out["noise_multiplier"] = sigma;

  const std::vector<SubsampledGaussian> run{{a.sample_rate, sigma, a.steps}};
  if (use_prv) {
    const PrvEpsilon e = prv_epsilon(run, a.delta, prv);
    out["epsilon"] = e.upper;
    out["epsilon_lower"] = e.lower;
    out["epsilon_estimate"] = e.estimate;
    out["epsilon_upper"] = e.upper;
    out["eps_error"] = prv.eps_error;
    out["delta_error"] = prv.delta_error > 0 ? prv.delta_error : a.delta / 1000.0;
    out["mesh"] = e.mesh;
    out["domain_points"] = e.points;
    out["domain_half_width"] = e.domain_half_width;
  } else {
    const RdpEpsilon e = rdp_epsilon(run, a.delta);
    out["epsilon"] = e.epsilon;
    out["best_order"] = e.best_order;
    out["order_at_grid_edge"] = e.at_grid_edge;
    if (!e.warning.empty()) {
      out["warning"] = e.warning;
      err << "sp_accountant: warning: " << e.warning << "\n";
    }
  }
  return out;
}

}  // namespace

int accountant_main(int argc, const char* const* argv, std::ostream& out, std::ostream& err) {
  CLI::App app{"Privacy accounting for DP-SGD with Poisson sampling (RDP or PRV accountant)", "sp_accountant"};
  Args a;
  app.add_option("--sample-rate", a.sample_rate, "Poisson sampling rate q = expected batch / dataset size")->required();
  app.add_option("--steps", a.steps, "number of noisy steps T")->required();
  app.add_option("--delta", a.delta, "target delta")->required();
  auto* sigma_opt = app.add_option("--noise-multiplier", a.noise_multiplier, "noise std / clipping norm (sigma)");
  auto* target_opt =
      app.add_option("--target-epsilon", a.target_epsilon, "print the smallest sigma whose epsilon is at most this");
  sigma_opt->excludes(target_opt);
  app.add_option("--accountant", a.accountant, "rdp (Opacus's RDP accountant) or prv (Gopi et al., tighter)")
      ->check(CLI::IsMember({"rdp", "prv"}))
      ->capture_default_str();
  app.add_option("--eps-error", a.eps_error, "PRV: epsilon error bound")->capture_default_str();
  app.add_option("--delta-error", a.delta_error, "PRV: delta error bound (default delta / 1000)");
  app.add_option("--tolerance", a.tolerance, "calibration: relative tolerance on sigma (default 1e-6 rdp, 1e-4 prv)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // CLI11's own statuses (105 and up) say nothing a script could use beyond "bad usage".
    return app.exit(e, out, err) == 0 ? kExitOk : kExitError;
  }
  if (const std::string bad = validate(a); !bad.empty()) {
    err << "sp_accountant: error: " << bad << "\n";
    return kExitError;
  }
  try {
    out << run(a, err).dump(2) << "\n";
  } catch (const sp::Error& e) {
    // The accountants' messages speak of q, sigma and delta: say which options they came from.
    std::string given;
    for (int i = 1; i < argc; ++i) given += std::string(i > 1 ? " " : "") + argv[i];
    err << "sp_accountant: error: with " << sp::printable_text(given) << ": " << e.what() << "\n";
    return kExitError;
  }
  return kExitOk;
}

}  // namespace sp::dpsgd
