// Small file helpers shared by the loaders and the experiment directory: opening only regular files, whole-file
// reads with errors that name the file, an exclusive lock file for one-time work shared between processes (parallel test runs
// extracting the same archive), and temporary sibling folders that are renamed into place when complete.
// Atomic whole-file writes are data/atomic_file.h. Tested through tests/test_data_cifar_binary.cpp,
// tests/test_data_image_folder.cpp, tests/test_data_experiment.cpp and tests/test_json_read.cpp (FIFOs,
// devices and directories refused).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "data/atomic_file.h"

namespace sp::data {

// Opens `path` for reading and returns the descriptor (O_CLOEXEC); the caller closes it. Anything but a
// regular file (a FIFO, a device such as /dev/zero behind a symlink, a directory) is refused with an error
// naming the path, without blocking: a FIFO without a writer would hang a plain open.
int open_regular_file(const std::string& path);
// The same check for readers that open by name (std::ifstream, libraries): throws unless `path` is a
// regular file (symlinks followed).
void require_regular_file(const std::string& path);
// The whole contents of a regular file.
std::vector<uint8_t> read_file_bytes(const std::string& path);
// Holds an exclusive flock on `path` (created if missing) for its lifetime.
class FileLock {
 public:
  explicit FileLock(const std::string& path);
  ~FileLock();
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
  // One attempt without waiting: null when another process (or another open of the file) holds the lock.
  static std::unique_ptr<FileLock> try_lock(const std::string& path);
  // Whether some process holds the lock on `path` now (false when the file does not exist).
  static bool is_held(const std::string& path);

 private:
  FileLock(const std::string& path, bool wait);
  int fd_ = -1;
};

// A fresh, empty directory next to `final_path` (same file system, so it can be renamed into place).
std::string make_sibling_temp_dir(const std::string& final_path);

}  // namespace sp::data
