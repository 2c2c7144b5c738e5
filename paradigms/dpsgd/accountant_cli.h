// The sp_accountant command line as a function, so that its whole input handling (CLI11 parsing, range
// checks, the accountants) can be driven in-process: by tools/sp_accountant.cpp, and by the fuzz target
// tests/fuzz/fuzz_accountant.cpp. End-to-end behaviour is tested in tests/test_accountant_cli.cpp.
#pragma once
#include <ostream>

namespace sp::dpsgd {

// Parses argv (argv[0] is the program name), prints the result as JSON to `out` and messages to `err`;
// returns the exit status of README "Exit status": 0, or 1 for bad usage, an out-of-range value (the message
// names the option) or a failed computation. --help prints to `out` and returns 0.
int accountant_main(int argc, const char* const* argv, std::ostream& out, std::ostream& err);

}  // namespace sp::dpsgd
