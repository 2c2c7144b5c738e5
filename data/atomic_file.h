// Whole-file writes that never leave a partial file behind: the bytes go to a temporary file in the same
// directory, are fsync'ed, and the temporary is renamed onto the destination. Used for results files,
// CSVs and PNGs (npy.h has its own streaming writer). Tested in tests/test_npy.cpp.
#pragma once
#include <string>
#include <string_view>

namespace sp {

void write_file_atomic(const std::string& path, std::string_view bytes);

}  // namespace sp
