// sp_coreset_groups: assembles the int64 [S, M] group file of a coreset experiment for `sp_lira --groups`
// from every DIR/shadow/<k>/groups.npy (1 = IN and selected, 2 = IN but not selected; each OUT pair joins
// one of the two by a seeded coin, so both groups have non-members: paradigms/coreset/coreset_shadow.h).
//   sp_coreset_groups DIR [--out FILE]      (default DIR/coreset_groups.npy)
// sp_train writes the same file itself once every shadow is selected. Tested in
// tests/test_coreset_shadow.cpp.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "paradigms/audit/exit_status.h"
#include "paradigms/coreset/coreset_shadow.h"

int main(int argc, char** argv) {
  CLI::App app{"Assemble the [S, M] coreset group file of an experiment directory for sp_lira --groups."};
  std::string dir, out;
  app.add_option("DIR", dir, "experiment directory trained by sp_train with paradigm coreset")->required();
  app.add_option("--out", out, "output .npy (default DIR/coreset_groups.npy)");
  SP_CLI_PARSE(app, argc, argv);
  try {
    if (out.empty()) out = dir + "/coreset_groups.npy";
    sp::GroupArray g = sp::write_experiment_groups(dir, out);
    int64_t counts[3] = {0, 0, 0};
    for (int64_t v : g.values) ++counts[v];
    std::printf("sp_coreset_groups: wrote %s [%lld, %lld]: %lld pairs in group 1 (selected + OUT), %lld in group 2 "
                "(IN not selected + OUT)\n",
                out.c_str(), (long long)g.S, (long long)g.M, (long long)counts[1], (long long)counts[2]);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sp_coreset_groups: error: %s\n", e.what());
    return 1;
  }
}
