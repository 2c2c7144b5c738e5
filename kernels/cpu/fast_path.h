// Which float32 CPU kernels run: the fast path (convolutions on oneDNN in builds that found it, CMake option
// SP_DNNL; batch norm and others on multi-threaded vectorised loops in every build) or the simple reference
// kernels that float64 always uses. SP_CPU_FAST=0 in the environment, or set_fast_path(false) in a test,
// selects the reference kernels for float32 too, so the two can be compared in one binary
// (tests/test_cpu_fast_path.cpp, `sp_train --bench`). The choice is printed by describe_cpu_kernels().
#pragma once
#include <string>

namespace sp::cpu {

// True when float32 CPU kernels use the fast path now.
bool fast_path();
// Turns the fast path on or off for the whole process.
void set_fast_path(bool on);
// Whether this build runs float32 convolutions on oneDNN when the fast path is on.
bool dnnl_built();
// "float32 fast path (convolutions on oneDNN 2.6.3), 2 threads"-style line for benchmark headers and logs.
std::string describe_cpu_kernels();

}  // namespace sp::cpu
