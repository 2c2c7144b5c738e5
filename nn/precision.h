// Precision: the numeric policy of a run (configuration key device.precision, sp_train --precision; issue 19
// item 7). fp32: float32 storage and arithmetic everywhere. tf32: float32 storage, TF32 tensor-core math for
// the GPU's convolutions and matrix products (Stream::allow_tf32); on the CPU the same as fp32. bf16: the
// emulated bf16 mixed-precision model: float32 (or float64) storage and arithmetic, but every tensor a bf16
// step stores (the input batch, the bf16 copies of conv/linear parameters, each layer's output and each of
// their gradients) rounded to bfloat16 where it is stored (ModelConfig::bf16, nn/models/layer_builder.h),
// while master parameters, optimiser state, running statistics and the loss stay float32. automatic: tf32 on
// a GPU, fp32 on the CPU. Tested in tests/test_precision.cpp.
#pragma once
#include <string>
#include <vector>

#include "kernels/device.h"

namespace sp {

enum class Precision { automatic, fp32, tf32, bf16 };

// "auto", "fp32", "tf32", "bf16": the names configuration files and command lines use.
const std::vector<std::string>& precision_names();
Precision parse_precision(const std::string& name);  // throws naming the bad value and the choices
const char* precision_name(Precision p);

// p with automatic resolved for s's device. automatic is never bf16 yet: until bf16 is a storage dtype on the
// GPU, the emulation there only adds rounding passes to float32 work, so a GPU takes tf32 (the issue's "bf16 by
// default on GPUs that have it" waits for that path; paradigms/config.h explains what it means for identity).
Precision resolve_precision(Precision p, const Stream& s);

// Sets s's matrix-math policy for a resolved precision: TF32 for tf32 and bf16, full float32 for fp32. bf16 may
// take TF32 because every operand of its convolutions and matrix products is a bf16 value, which TF32's
// 10-bit mantissa holds exactly: products are exact either way and only the accumulation order differs.
void apply_precision(Stream& s, Precision resolved);

}  // namespace sp
