// On/off switches read from the environment (SP_CPU_FAST, SP_CUDNN_HEURISTIC, SP_CUDA_DEBUG_SYNC). A switch
// accepts 1/on/true/yes and 0/off/false/no (any case); unset or empty gives the default; anything else is an
// error that names the variable, so a typo never silently runs the other configuration. Tested in
// tests/test_env_flag.cpp.
#pragma once
#include <optional>
#include <string_view>

namespace sp {

// The switch's value for `text`; nullopt when `text` is none of the accepted spellings.
std::optional<bool> parse_switch(std::string_view text);

// The variable's value as a switch (`fallback` when unset or empty). Throws sp::Error naming the variable
// and its value otherwise.
bool env_switch(const char* name, bool fallback);

// SP_CUDA_DEBUG_SYNC: every CUDA kernel launch and cuBLAS/cuDNN call is followed by a device
// synchronisation and an error check, so an asynchronous fault is reported at the launch that caused it
// (file, line and launching function) instead of at some later call. Read once per process; off by default.
bool cuda_debug_sync();

}  // namespace sp
