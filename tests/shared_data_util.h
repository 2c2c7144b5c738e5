// The shared CIFAR-10 image folder for tests that need real images (data tests, the GPU's one-epoch check),
// without the other helpers of data_test_util.h (whose TempDir differs from lira_test_util.h's).
#pragma once
#include <cstdlib>
#include <filesystem>
#include <string>

#include "data/archive.h"
#include "data/sha256.h"

namespace sp::test {

// The shared CIFAR-10 image folder (train/<class>/NNNN.jpg, test/...), unpacked once into the build tree
// after its sha256 is verified. The shared folder is ../shared beside the checkout, or $SP_SHARED_DIR (for
// worktrees kept elsewhere). Returns "" and sets *why when it is not there.
inline std::string shared_dir() {
  const char* env = std::getenv("SP_SHARED_DIR");
  return env && *env ? std::string(env) : std::string(SP_SOURCE_DIR) + "/../shared";
}
inline std::string shared_cifar10_jpeg(std::string* why) {
  std::string archive = shared_dir() + "/data/cifar10-jpeg.tar.gz";
  if (!std::filesystem::exists(archive) || !std::filesystem::exists(archive + ".sha256")) {
    *why = "shared CIFAR-10 archive not found at " + archive;
    return "";
  }
  return data::extract_archive_once(archive, data::read_sha256_file(archive + ".sha256"),
                                    std::string(SP_BINARY_DIR) + "/data/cifar10-jpeg");
}

}  // namespace sp::test
