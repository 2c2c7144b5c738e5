// PNG chunk lengths against the file's size (see image_check.h).
#include "data/image_check.h"

#include <cstring>

namespace sp::data {

std::string png_structure_problem(std::span<const uint8_t> bytes) {
  static constexpr uint8_t kSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (bytes.size() < 8 || std::memcmp(bytes.data(), kSignature, 8) != 0) return "";
  size_t at = 8;
  for (int k = 1; at < bytes.size(); ++k) {
    if (bytes.size() - at < 12) return "chunk " + std::to_string(k) + " is cut short (" + std::to_string(bytes.size() - at) + " bytes left)";
    const uint64_t length = (uint64_t(bytes[at]) << 24) | (uint64_t(bytes[at + 1]) << 16) |
                            (uint64_t(bytes[at + 2]) << 8) | uint64_t(bytes[at + 3]);
    std::string type;
    for (int i = 4; i < 8; ++i) {
      const uint8_t c = bytes[at + i];
      type += (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ? char(c) : '?';
    }
    const uint64_t left = bytes.size() - at - 12;  // after the length, type and CRC fields
    if (length > left)
      return "chunk " + std::to_string(k) + " ('" + type + "') claims " + std::to_string(length) + " bytes, " +
             std::to_string(left) + " are left";
    if (type == "IEND") return "";
    at += 12 + length;
  }
  return "";
}

}  // namespace sp::data
