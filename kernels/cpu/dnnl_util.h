// The oneDNN side of the CPU backend: one engine, a stream per thread (each running primitives on that thread
// alone: OpenMP set to one thread), and error translation. Only compiled when the build found oneDNN (SP_HAVE_DNNL, CMake option
// SP_DNNL); the float32 fast paths (kernels/cpu/dnnl_*.cpp) call into it. The float64 kernels stay the
// simple reference every fast path is checked against (tests/test_cpu_fast_path.cpp).
#pragma once
#include <string>

#include <oneapi/dnnl/dnnl.hpp>

#include "kernels/error.h"

namespace sp::cpu::dnnl_rt {

dnnl::engine& engine();
// The calling thread's stream; the first call on a thread sets OpenMP to one thread there, so call it before
// creating primitives (they size their buffers for the thread count at creation).
dnnl::stream& stream();

// "oneDNN 2.6.3 (avx512_core_amx)"-style description for logs and benchmark headers.
std::string describe();

[[noreturn]] void fail(const char* file, int line, const std::string& what, const dnnl::error& e);

}  // namespace sp::cpu::dnnl_rt

// Runs a oneDNN statement; a dnnl::error becomes an sp::Error naming the op, the file and the line.
#define SP_DNNL(what, ...)                                  \
  do {                                                      \
    try {                                                   \
      __VA_ARGS__;                                          \
    } catch (const dnnl::error& sp_dnnl_e) {                \
      ::sp::cpu::dnnl_rt::fail(__FILE__, __LINE__, what, sp_dnnl_e); \
    }                                                       \
  } while (0)
