// sp_fuzz_replay: runs the fuzz targets of tests/fuzz without libFuzzer, over files. The test suite uses it on
// the seed corpus (every seed must be accepted: it is a valid file of the project's own writers) and on the
// regression inputs, each an input a fuzzer once found a defect with (they must now end cleanly).
//   sp_fuzz_replay TARGET [--must-accept] PATH... [-- PATH...]
// PATHs are files or directories (read recursively, in name order); --must-accept applies to the paths up to
// "--". A finding aborts with its message (fuzz_util.h); the status is 1 when a seed was refused.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "tests/fuzz/fuzz_util.h"

namespace fs = std::filesystem;

namespace {

std::vector<std::string> files_under(const std::string& p) {
  std::vector<std::string> v;
  if (fs::is_directory(p)) {
    for (const auto& e : fs::recursive_directory_iterator(p))
      if (e.is_regular_file()) v.push_back(e.path().string());
  } else if (fs::is_regular_file(p)) {
    v.push_back(p);
  } else {
    std::fprintf(stderr, "sp_fuzz_replay: %s is neither a file nor a directory\n", p.c_str());
    std::exit(1);
  }
  std::sort(v.begin(), v.end());
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  auto& targets = sp::fuzz::targets();
  if (argc < 2 || !targets.count(argv[1])) {
    std::fprintf(stderr, "usage: sp_fuzz_replay TARGET [--must-accept] PATH... [-- PATH...]\ntargets:");
    for (const auto& [name, fn] : targets) std::fprintf(stderr, " %s", name.c_str());
    std::fprintf(stderr, "\n");
    return 1;
  }
  const sp::fuzz::TargetFn fn = targets[argv[1]];
  bool must_accept = false;
  int inputs = 0, seeds = 0, refused = 0;
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--must-accept") {
      must_accept = true;
      continue;
    }
    if (a == "--") {
      must_accept = false;
      continue;
    }
    for (const std::string& f : files_under(a)) {
      std::ifstream in(f, std::ios::binary);
      const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      const int before = sp::fuzz::accepted_count();
      std::fprintf(stderr, "%s: %s (%zu bytes)\n", argv[1], f.c_str(), bytes.size());
      fn(bytes.data(), bytes.size());
      ++inputs;
      if (must_accept) {
        ++seeds;
        if (sp::fuzz::accepted_count() == before) {
          std::fprintf(stderr, "sp_fuzz_replay: the seed %s was refused\n", f.c_str());
          ++refused;
        }
      }
    }
  }
  std::printf("sp_fuzz_replay %s: %d inputs, %d seeds (%d refused), no finding\n", argv[1], inputs, seeds, refused);
  return refused == 0 && inputs > 0 ? 0 : 1;
}
