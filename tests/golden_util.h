// Locates the golden reference files (written by PyTorch + the Python safetensors package; see
// shared/golden/README.md). They live in ../shared/golden next to the source tree, or shared/golden inside it;
// SP_GOLDEN_DIR overrides both. Tests skip with a printed reason when a file is absent.
#pragma once
#include <cstdlib>
#include <filesystem>
#include <string>

namespace sp::test {

// Full path of golden file `name`, or "" when none of the candidate directories holds it.
inline std::string golden_path(const std::string& name) {
  std::string dirs[3];
  if (const char* env = std::getenv("SP_GOLDEN_DIR")) dirs[0] = env;
  dirs[1] = SP_SOURCE_DIR "/../shared/golden";
  dirs[2] = SP_SOURCE_DIR "/shared/golden";
  for (const std::string& d : dirs) {
    if (d.empty()) continue;
    std::filesystem::path p = std::filesystem::path(d) / name;
    if (std::filesystem::is_regular_file(p)) return p.string();
  }
  return "";
}

}  // namespace sp::test

// Declares `std::string var` holding the golden file's path, or skips the test saying where it looked.
#define SP_REQUIRE_GOLDEN(var, name)                                                                     \
  std::string var = ::sp::test::golden_path(name);                                                       \
  if (var.empty())                                                                                       \
    GTEST_SKIP() << "golden file " << (name) << " not found in $SP_GOLDEN_DIR, " SP_SOURCE_DIR           \
                 << "/../shared/golden or " SP_SOURCE_DIR "/shared/golden"
