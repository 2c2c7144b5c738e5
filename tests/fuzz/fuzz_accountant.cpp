// Fuzz target: sp_accountant's input (paradigms/dpsgd/accountant_cli.h), its whole command line. The input is
// the argument list, one argument per line. Whatever the arguments, the call must return a status (0, or 1 with
// a message) without throwing, in bounded time (libFuzzer's -timeout) and memory; a result is JSON with a
// numeric epsilon and noise multiplier.
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "paradigms/dpsgd/accountant_cli.h"
#include "tests/fuzz/fuzz_util.h"

SP_FUZZ_TARGET(accountant) {
  using namespace sp;
  std::vector<std::string> args = {"sp_accountant"};
  std::string cur;
  for (size_t i = 0; i < size; ++i) {
    if (data[i] == '\n') {
      args.push_back(cur);
      cur.clear();
    } else {
      cur.push_back(char(data[i]));
    }
  }
  if (!cur.empty()) args.push_back(cur);
  std::vector<const char*> argv;
  for (const std::string& a : args) argv.push_back(a.c_str());
  std::ostringstream out, err;
  int status = -1;
  if (!fuzz::accepts([&] { status = dpsgd::accountant_main(int(argv.size()), argv.data(), out, err); }, ""))
    fuzz::finding("an sp::Error escaped accountant_main");
  if (status != 0 && status != 1) fuzz::finding("exit status " + std::to_string(status));
  if (status == 1 && err.str().empty()) fuzz::finding("status 1 without a message");
  if (status == 0 && out.str().find("--help") == std::string::npos) {
    // A result: JSON whose numbers are numbers (a NaN or infinity would print as null and pass unnoticed).
    const nlohmann::json j = nlohmann::json::parse(out.str(), nullptr, false);
    if (j.is_discarded()) fuzz::finding("status 0 with output that is not JSON: " + out.str());
    for (const char* key : {"epsilon", "noise_multiplier"})
      if (!j.contains(key) || !j[key].is_number()) fuzz::finding(std::string("status 0 without a numeric ") + key + ": " + out.str());
    ++fuzz::accepted_count();
  }
  return 0;
}
