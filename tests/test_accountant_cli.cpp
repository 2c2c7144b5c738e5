// End-to-end tests of build/bin/sp_accountant: JSON output for the RDP and PRV accountants and for noise
// calibration, agreement with the library, and non-zero exits with a message naming the offending option.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "paradigms/dpsgd/calibrate.h"

namespace sp::dpsgd {
namespace {

struct CliRun {
  int status;
  std::string output;  // stdout, or stdout + stderr when merged
};

CliRun run_cli(const std::string& args, bool merge_stderr = false) {
  const std::string cmd =
      std::string(SP_BINARY_DIR) + "/bin/sp_accountant " + args + (merge_stderr ? " 2>&1" : " 2>/dev/null");
  FILE* pipe = popen(cmd.c_str(), "r");
  if (!pipe) return {-1, "popen failed"};
  std::string out;
  std::array<char, 4096> buf{};
  size_t got;
  while ((got = fread(buf.data(), 1, buf.size(), pipe)) > 0) out.append(buf.data(), got);
  const int raw = pclose(pipe);
  return {WIFEXITED(raw) ? WEXITSTATUS(raw) : -1, out};
}

TEST(AccountantCli, RdpEpsilon) {
  const CliRun r = run_cli("--sample-rate 0.00512 --noise-multiplier 1.0 --steps 19531 --delta 1e-5");
  ASSERT_EQ(r.status, 0) << r.output;
  const auto j = nlohmann::json::parse(r.output);
  EXPECT_EQ(j["accountant"], "rdp");
  EXPECT_NEAR(j["epsilon"].get<double>(), 4.5239, 0.55e-4);
  EXPECT_EQ(j["best_order"].get<double>(), 5.4);
  EXPECT_EQ(j["epsilon"].get<double>(), rdp_epsilon({{0.00512, 1.0, 19531}}, 1e-5).epsilon);
  EXPECT_FALSE(j["order_at_grid_edge"].get<bool>());
  EXPECT_FALSE(j.contains("warning"));
}

TEST(AccountantCli, RdpGridEdgeWarning) {
  const CliRun r = run_cli("--sample-rate 0.001 --noise-multiplier 20 --steps 100 --delta 1e-5", true);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("warning"), std::string::npos) << r.output;
  const CliRun json_only = run_cli("--sample-rate 0.001 --noise-multiplier 20 --steps 100 --delta 1e-5");
  const auto j = nlohmann::json::parse(json_only.output);
  EXPECT_TRUE(j["order_at_grid_edge"].get<bool>());
  EXPECT_EQ(j["best_order"].get<double>(), 63.0);
}

TEST(AccountantCli, PrvEpsilon) {
  const CliRun r = run_cli("--sample-rate 0.08192 --noise-multiplier 10 --steps 875 --delta 1e-5 --accountant prv");
  ASSERT_EQ(r.status, 0) << r.output;
  const auto j = nlohmann::json::parse(r.output);
  EXPECT_EQ(j["accountant"], "prv");
  EXPECT_NEAR(j["epsilon"].get<double>(), 0.9128, 1e-3);
  EXPECT_EQ(j["epsilon"], j["epsilon_upper"]);
  EXPECT_NEAR(j["epsilon_estimate"].get<double>(), 0.9028, 1e-3);
  EXPECT_NEAR(j["epsilon_lower"].get<double>(), 0.8927, 1e-3);
  EXPECT_EQ(j["delta_error"].get<double>(), 1e-8);
}

TEST(AccountantCli, TargetEpsilonCalibrates) {
  const CliRun r = run_cli("--sample-rate 0.08192 --steps 854 --delta 1e-5 --target-epsilon 2");
  ASSERT_EQ(r.status, 0) << r.output;
  const auto j = nlohmann::json::parse(r.output);
  const double sigma = j["noise_multiplier"].get<double>();
  EXPECT_NEAR(sigma / 5.2523, 1.0, 1e-3);
  EXPECT_LE(j["epsilon"].get<double>(), 2.0);
  EXPECT_EQ(sigma, calibrate_noise_rdp(0.08192, 854, 1e-5, 2.0).noise_multiplier);

  // PRV calibration (a short run keeps the ~20 PRV evaluations cheap): tighter, so less noise for the target.
  const std::string short_run = "--sample-rate 0.1 --steps 100 --delta 1e-5 --target-epsilon 2";
  const CliRun p = run_cli(short_run + " --accountant prv");
  ASSERT_EQ(p.status, 0) << p.output;
  const auto jp = nlohmann::json::parse(p.output);
  EXPECT_LE(jp["epsilon"].get<double>(), 2.0);
  const auto jr = nlohmann::json::parse(run_cli(short_run).output);
  EXPECT_LT(jp["noise_multiplier"].get<double>(), jr["noise_multiplier"].get<double>());
}

TEST(AccountantCli, BadInputExitsNonZeroNamingTheOption) {
  const std::string ok = " --steps 100 --delta 1e-5";
  const std::pair<std::string, std::string> cases[] = {
      {"--sample-rate 0 --noise-multiplier 1" + ok, "--sample-rate"},
      {"--sample-rate 1.5 --noise-multiplier 1" + ok, "--sample-rate"},
      {"--sample-rate abc --noise-multiplier 1" + ok, "--sample-rate"},
      {"--sample-rate 0.1 --noise-multiplier 0" + ok, "--noise-multiplier"},
      {"--sample-rate 0.1 --noise-multiplier -2" + ok, "--noise-multiplier"},
      {"--sample-rate 0.1 --noise-multiplier x1" + ok, "--noise-multiplier"},
      {"--sample-rate 0.1 --noise-multiplier 1 --steps 0 --delta 1e-5", "--steps"},
      {"--sample-rate 0.1 --noise-multiplier 1 --steps 2.5 --delta 1e-5", "--steps"},
      {"--sample-rate 0.1 --noise-multiplier 1 --steps 100 --delta 0", "--delta"},
      {"--sample-rate 0.1 --noise-multiplier 1 --steps 100 --delta 1", "--delta"},
      {"--sample-rate 0.1 --noise-multiplier 1 --steps 100 --delta 1e-5 --accountant moments", "--accountant"},
      {"--sample-rate 0.1" + ok, "--target-epsilon"},
      {"--sample-rate 0.1 --target-epsilon 0.01" + ok, "--target-epsilon"},
      {"--sample-rate 0.1 --target-epsilon -1" + ok, "--target-epsilon"},
      {"--noise-multiplier 1" + ok, "--sample-rate"},
  };
  // Values the range checks let through but an accountant cannot work with: the message says which options.
  const std::pair<std::string, std::string> compute[] = {
      {"--sample-rate 0.01 --noise-multiplier 1e-300 --steps 100 --delta 1e-5", "--noise-multiplier 1e-300"},
      {"--sample-rate 0.01 --noise-multiplier 1 --steps 100 --delta 1e-5 --accountant prv --eps-error 1e-300",
       "--eps-error 1e-300"},
  };
  for (const auto& [args, option] : compute) {
    const CliRun r = run_cli(args, true);
    EXPECT_EQ(r.status, 1) << args;
    EXPECT_NE(r.output.find("with " + args + ": "), std::string::npos) << r.output;
    EXPECT_NE(r.output.find(option), std::string::npos) << r.output;
  }
  for (const auto& [args, option] : cases) {
    const CliRun r = run_cli(args, true);
    EXPECT_EQ(r.status, 1) << args;  // README "Exit status": bad usage is 1, as in every tool
    EXPECT_NE(r.output.find(option), std::string::npos) << args << "\n" << r.output;
  }
}

}  // namespace
}  // namespace sp::dpsgd
