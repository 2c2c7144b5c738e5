// Fuzz target: experiment configuration files (paradigms/config.h), read as sp_audit and sp_train read them:
// JSON with comments, depth and number limits, every section and paradigm block with its keys and ranges.
// Errors must name the file (the key paths follow it in the message).
#include "paradigms/config.h"
#include "tests/fuzz/fuzz_util.h"

SP_FUZZ_TARGET(config) {
  using namespace sp;
  const std::string path = fuzz::write_input("input.json", data, size);
  if (fuzz::accepts([&] { load_config(path); }, path)) ++fuzz::accepted_count();
  return 0;
}
