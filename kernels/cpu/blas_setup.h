// Picking OpenBLAS's fast kernels on CPUs it does not recognise. OpenBLAS (DYNAMIC_ARCH) chooses its kernels
// from the CPU model when the library loads; on virtual CPUs that report an unknown model ("Intel Xeon
// Processor") it falls back to its generic Prescott (SSE3) kernels, which ran SGEMM 4-6x slower than its
// Haswell/SkylakeX kernels on the development box. The choice is made before main() and cannot be changed
// afterwards, so the tools call ensure_fast_blas() first: when OpenBLAS reports a generic core, the CPU has
// AVX2 and FMA, and the user has not set OPENBLAS_CORETYPE, the process re-executes itself once with
// OPENBLAS_CORETYPE set (SkylakeX with AVX-512, else Haswell). Tested by tests/test_blas_setup.cpp (the
// decision function) and by every tool test, which runs the re-executed binaries.
#pragma once
#include <string>

namespace sp::cpu {

// The OPENBLAS_CORETYPE to request for a library reporting `corename` on a CPU with these features, or
// "" to keep the library's choice.
std::string preferred_blas_core(const std::string& corename, bool avx2, bool fma, bool avx512f);

// Re-executes the program (argv as given to main) with OPENBLAS_CORETYPE set when preferred_blas_core()
// asks for it. Returns normally when nothing is to be done, the BLAS is not OpenBLAS, OPENBLAS_CORETYPE is
// already set (the user's choice, or this is the re-executed process), or exec fails (with a warning on
// stderr naming the slower kernels).
void ensure_fast_blas(char** argv);

// The kernels OpenBLAS is using ("SkylakeX", "Prescott", ...), or "" for another BLAS.
std::string blas_core_name();

}  // namespace sp::cpu
