// sp_lira_synth: writes a synthetic LiRA experiment directory (attacks/lira_synth.h) for benchmarks and
// demos, e.g. `sp_lira_synth /tmp/exp --models 32 --samples 50000 --queries 18` for the issue 5 benchmark.
// Exercised by tests/test_lira_cli.cpp through the same library function.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "attacks/lira_synth.h"
#include "paradigms/audit/exit_status.h"

using namespace sp::lira;

int main(int argc, char** argv) {
  CLI::App app{"Write a synthetic LiRA experiment (members get a higher margin)."};
  std::string dir, layout = "synpriv";
  SynthOptions o;
  app.add_option("DIR", dir, "output directory")->required();
  app.add_option("--models", o.S, "S")->capture_default_str();
  app.add_option("--samples", o.M, "M")->capture_default_str();
  app.add_option("--queries", o.A, "A")->capture_default_str();
  app.add_option("--classes", o.C, "C")->capture_default_str();
  app.add_option("--population", o.P, "P population samples, trained on by no model (synpriv layout; for RMIA)")
      ->capture_default_str();
  app.add_option("--gain", o.gain, "mean margin increase of members (0: no signal)")->capture_default_str();
  app.add_option("--seed", o.seed, "random seed")->capture_default_str();
  app.add_option("--layout", layout, "synpriv or tf-privacy")->check(CLI::IsMember({"synpriv", "tf-privacy"}))->capture_default_str();
  app.add_option("--threads", o.threads, "worker threads (0: all cores)")->capture_default_str();
  SP_CLI_PARSE(app, argc, argv);
  try {
    o.layout = layout_from_name(layout);
    write_synthetic_experiment(dir, o);
    std::printf("wrote %s: %lld models, %lld samples, %lld queries, %lld classes (%s layout)\n", dir.c_str(),
                (long long)o.S, (long long)o.M, (long long)o.A, (long long)o.C, layout.c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sp_lira_synth: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
