// OpenBLAS kernel selection at start-up (see blas_setup.h).
#include "kernels/cpu/blas_setup.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

// Weak: with another BLAS these are null and nothing is done.
extern "C" char* openblas_get_corename(void) __attribute__((weak));

namespace sp::cpu {

std::string blas_core_name() {
  if (!openblas_get_corename) return "";
  const char* n = openblas_get_corename();
  return n ? n : "";
}

std::string preferred_blas_core(const std::string& corename, bool avx2, bool fma, bool avx512f) {
  // OpenBLAS's pre-AVX cores: what DYNAMIC_ARCH falls back to on unknown x86-64 models.
  static const char* kGeneric[] = {"Prescott", "Core2", "Penryn", "Dunnington", "Nehalem", "Katmai", "Coppermine",
                                   "Northwood", "Banias", "Atom", "Athlon", "Opteron", "Opteron(SSE3)", "Barcelona"};
  bool generic = false;
  for (const char* g : kGeneric) generic = generic || strcasecmp(corename.c_str(), g) == 0;
  if (!generic || !avx2 || !fma) return "";
  return avx512f ? "SkylakeX" : "Haswell";
}

void ensure_fast_blas(char** argv) {
#if defined(__x86_64__)
  if (std::getenv("OPENBLAS_CORETYPE")) return;
  std::string core = blas_core_name();
  if (core.empty()) return;
  __builtin_cpu_init();
  std::string want = preferred_blas_core(core, __builtin_cpu_supports("avx2"), __builtin_cpu_supports("fma"),
                                         __builtin_cpu_supports("avx512f"));
  if (want.empty()) return;
  setenv("OPENBLAS_CORETYPE", want.c_str(), 1);
  execv("/proc/self/exe", argv);
  std::fprintf(stderr, "warning: could not restart with OPENBLAS_CORETYPE=%s (%s); OpenBLAS keeps its slower %s "
               "kernels (set OPENBLAS_CORETYPE=%s yourself to avoid this)\n", want.c_str(), std::strerror(errno),
               core.c_str(), want.c_str());
#else
  (void)argv;
#endif
}

}  // namespace sp::cpu
