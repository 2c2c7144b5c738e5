// Command-line pieces shared by sp_train and sp_audit: non-negative integers and lists of them with errors
// naming the option, an inclusive range "A-B" of shadow indices, and the device a --device choice means.
// Tested through tests/test_sp_train.cpp and tests/test_sp_audit.cpp (bad ranges and indices).
#pragma once
#include <string>
#include <vector>

#include "kernels/device.h"

namespace sp {

// A non-negative integer below 2^30; throws naming `what` otherwise.
int parse_index(const std::string& s, const std::string& what);
// Comma-separated indices ("0,1,3"); throws naming `what` for an empty list or a bad entry.
std::vector<int> parse_index_list(const std::string& list, const std::string& what);
// "A-B" with A <= B, both inclusive.
void parse_index_range(const std::string& range, const std::string& what, int* first, int* last);
// cpu, cuda (an error when no GPU is usable, with the reason) or auto (GPU 0 when usable, else the CPU).
Stream& pick_device(const std::string& device);

}  // namespace sp
