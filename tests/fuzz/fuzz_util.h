// What every fuzz target of tests/fuzz shares: the entry point, a scratch file for the input (the parsers under
// test read files, as the tools do), and the verdict on each call. Bad input must end in an sp::Error whose
// message names the file (or, for in-memory text, the source it was given); any other exception, an error
// naming nothing, a crash, a sanitizer report or a hang is a finding. A finding aborts, so that libFuzzer keeps
// the input, and the replay driver (replay_main.cpp) fails on it.
//
// Built two ways (CMakeLists.txt): with -DSP_FUZZ=ON under clang each fuzz_<name>.cpp is its own libFuzzer
// binary (SP_FUZZ_TARGET defines LLVMFuzzerTestOneInput); in the ordinary build all targets register in one
// replay binary, sp_fuzz_replay, which the test suite runs over the seed corpus (make_seeds.cpp) and over every
// input a fuzzer ever found (tests/fuzz/regressions/<name>/).
#pragma once
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <typeinfo>

#include "kernels/error.h"

namespace sp::fuzz {

using TargetFn = int (*)(const uint8_t*, size_t);

inline std::map<std::string, TargetFn>& targets() {
  static std::map<std::string, TargetFn> t;
  return t;
}
inline bool register_target(const char* name, TargetFn fn) {
  targets()[name] = fn;
  return true;
}

// Inputs the target's main reader accepted (no error): the replay driver's check that each seed reaches past
// the parser's first checks.
inline int& accepted_count() {
  static int n = 0;
  return n;
}

// This process's scratch directory, removed when the process ends normally.
class Scratch {
 public:
  Scratch() {
    const char* tmp = std::getenv("TMPDIR");
    std::string tmpl = std::string(tmp && *tmp ? tmp : "/tmp") + "/sp_fuzz_XXXXXX";
    if (!::mkdtemp(tmpl.data())) {
      std::perror("sp_fuzz: mkdtemp");
      std::abort();
    }
    dir_ = tmpl;
  }
  ~Scratch() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
};

inline const std::string& scratch_dir() {
  static Scratch s;
  return s.dir();
}

// Writes the input to scratch_dir()/rel (directories created) and returns its path.
inline std::string write_input(const std::string& rel, const uint8_t* data, size_t size) {
  const std::string path = scratch_dir() + "/" + rel;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f || (size > 0 && std::fwrite(data, 1, size, f) != size) || std::fclose(f) != 0) {
    std::perror(("sp_fuzz: writing " + path).c_str());
    std::abort();
  }
  return path;
}

[[noreturn]] inline void finding(const std::string& what) {
  std::fprintf(stderr, "sp_fuzz: FINDING: %s\n", what.c_str());
  std::fflush(stderr);
  std::abort();
}

// Runs f: true when it returned, false when it refused the input with an sp::Error naming `must_name` (skipped
// when empty). Anything else is a finding.
template <class F>
bool accepts(F&& f, const std::string& must_name) {
  try {
    f();
    return true;
  } catch (const Error& e) {
    const std::string msg = e.what();
    if (!must_name.empty() && msg.find(must_name) == std::string::npos)
      finding("an error that does not name '" + must_name + "': " + msg);
    return false;
  } catch (const std::exception& e) {
    finding(std::string("an exception other than sp::Error (") + typeid(e).name() + "): " + e.what());
  } catch (...) {
    finding("a non-standard exception");
  }
}

}  // namespace sp::fuzz

#ifdef SP_LIBFUZZER
#define SP_FUZZ_TARGET(name) extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
#else
#define SP_FUZZ_TARGET(name)                                                                          \
  static int sp_fuzz_##name(const uint8_t* data, size_t size);                                        \
  [[maybe_unused]] static const bool sp_fuzz_registered_##name =                                      \
      ::sp::fuzz::register_target(#name, sp_fuzz_##name);                                             \
  static int sp_fuzz_##name(const uint8_t* data, size_t size)
#endif
