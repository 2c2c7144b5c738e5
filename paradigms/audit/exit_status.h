// The exit statuses sp_audit, sp_train and sp_lira share (README "Exit status"), and the command-line
// parsing that maps CLI11's usage errors onto them. Tested through the tools' end-to-end tests
// (tests/test_sp_audit.cpp, tests/test_sp_train.cpp, tests/test_lira_cli.cpp, tests/test_process_faults.cpp).
#pragma once
#include <CLI/CLI.hpp>

namespace sp {

// Every requested result exists.
inline constexpr int kExitOk = 0;
// Nothing more could be done: bad usage or input (a configuration error, a directory holding another
// experiment, an unreadable file), or an error that stopped the run; the message names the file or key.
inline constexpr int kExitError = 1;
// The run went to its end, but some requested result is missing (a shadow model failed, or is left to
// another process with sp_train --no-wait, or the attacks could not run); what exists is written and the
// output says what is missing.
inline constexpr int kExitPartial = 2;

// CLI11's own statuses for usage errors (105 to 127) would tell a script nothing kExitError does not; --help
// still ends with 0.
inline int cli_exit(const CLI::App& app, const CLI::ParseError& e) {
  int rc = app.exit(e);
  return rc == 0 ? kExitOk : kExitError;
}

}  // namespace sp

// CLI11_PARSE with the statuses above.
#define SP_CLI_PARSE(app, argc, argv)        \
  try {                                      \
    (app).parse((argc), (argv));             \
  } catch (const CLI::ParseError& e) {       \
    return ::sp::cli_exit((app), e);         \
  }
