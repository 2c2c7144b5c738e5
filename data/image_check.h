// What stb_image does not check before it allocates: in a PNG, every chunk must fit in the file. stb grows its
// buffer for the compressed data to what a chunk's length field claims before reading it, so a 93-byte file
// claiming a 2 GB IDAT chunk made it allocate 2 GB (found by the fuzz target tests/fuzz/fuzz_image.cpp; the
// input is kept in tests/fuzz/regressions/image/). Tested in tests/test_data_image_folder.cpp.
#pragma once
#include <cstdint>
#include <span>
#include <string>

namespace sp::data {

// "" when `bytes` is not a PNG or its chunks fit; otherwise what is wrong, e.g. "chunk 2 ('IDAT') claims
// 1140850688 bytes, 37 are left".
std::string png_structure_problem(std::span<const uint8_t> bytes);

}  // namespace sp::data
