// One-time, checksum-verified unpacking of a .tar.gz (the shared CIFAR-10 image folder, the official binary
// download) into a folder. Concurrent callers (parallel test processes) serialise on a lock file; the archive
// is unpacked into a temporary sibling and renamed into place with a stamp holding its sha256, so a reader
// never sees a half-extracted tree and a changed archive is re-extracted. Tested in
// tests/test_data_image_folder.cpp (shared CIFAR-10) and tests/test_data_archive.cpp (small archives, bad
// checksum, corrupt archive).
#pragma once
#include <string>
#include <vector>

namespace sp::data {

// Returns dest after making sure it holds the contents of `archive`, whose sha256 must equal `sha256_hex`.
std::string extract_archive_once(const std::string& archive, const std::string& sha256_hex, const std::string& dest);

// Runs argv[0] (found on PATH) with the arguments, without a shell; returns its exit status (-1 when it could
// not be started or was killed by a signal).
int run_program(const std::vector<std::string>& argv);

}  // namespace sp::data
