// Small file helpers shared by the loaders and the experiment directory: whole-file reads with errors that
// name the file, atomic writes (temporary file in the same directory, then rename, so a crash never leaves
// a half-written file under the final name), and an exclusive lock file for one-time work shared between
// processes (parallel test runs extracting the same archive). Tested through tests/test_data_cifar_binary.cpp,
// tests/test_data_image_folder.cpp and tests/test_data_experiment.cpp.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace sp::data {

std::vector<uint8_t> read_file_bytes(const std::string& path);
// Writes bytes to `path` atomically (parent directory must exist).
void write_file_atomic(const std::string& path, const void* data, size_t n);
inline void write_file_atomic(const std::string& path, const std::string& s) {
  write_file_atomic(path, s.data(), s.size());
}

// Holds an exclusive flock on `path` (created if missing) for its lifetime.
class FileLock {
 public:
  explicit FileLock(const std::string& path);
  ~FileLock();
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_ = -1;
};

// A fresh, empty directory next to `final_path` (same file system, so it can be renamed into place).
std::string make_sibling_temp_dir(const std::string& final_path);

}  // namespace sp::data
