// Small file helpers shared by the loaders and the experiment directory: opening only regular files, whole-file
// reads with errors that name the file, an exclusive lock file for work shared between processes (parallel
// test runs extracting the same archive, the trainer of a shadow model) that says who holds it, temporary
// sibling folders that are renamed into place when complete, and the removal of temporaries whose writer is
// gone. Atomic whole-file writes are data/atomic_file.h. Tested through tests/test_data_cifar_binary.cpp,
// tests/test_data_image_folder.cpp, tests/test_data_experiment.cpp, tests/test_process_faults.cpp and
// tests/test_json_read.cpp (FIFOs, devices and directories refused).
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

// The process that holds a FileLock, as it wrote itself into the lock file.
struct LockHolder {
  long pid = 0;        // 0: unknown (an older writer, or one that has not written yet)
  std::string host;    // its host name ("" when unknown)
  // "pid 123", "pid 123 on node7", or "another process"
  std::string str() const;
};

// Holds an exclusive flock on `path` (created if missing) for its lifetime. While held, the file contains
// "<pid> <host>" of the holder, so that a process waiting for it can say for whom; it is emptied before
// release (a holder killed with SIGKILL leaves its line, which the next holder overwrites).
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
  // Who holds the lock on `path` by its content (pid 0 when unknown or when that process is gone from this
  // host); only meaningful while is_held() is true.
  static LockHolder holder(const std::string& path);

 private:
  FileLock(const std::string& path, bool wait);
  int fd_ = -1;
};

// A fresh, empty directory next to `final_path` (same file system, so it can be renamed into place), named
// .<name>.tmp.<pid>.XXXXXX; those of dead processes beside it are removed first (with a note on stderr).
std::string make_sibling_temp_dir(const std::string& final_path);

// Whether a process with this id exists on this host (a zombie counts as gone).
bool process_alive(long pid);

// The temporaries writers leave when killed between creating and renaming them: NAME.tmp.<pid>[.<n>]
// (data/atomic_file.h, data/npy.h, nn/safetensors.h) and .NAME.tmp.<pid>.XXXXXX folders
// (make_sibling_temp_dir). Returns the pid in such a name, or 0 for any other name.
long temporary_owner_pid(const std::string& filename);

struct RemovedTemporary {
  std::string path;
  long pid = 0;
};

// Removes the temporaries under `dir` (recursively when asked) whose writing process is gone, and returns
// them. A pid names a process only on the host that wrote it: on a local file system (ext4, xfs, btrfs,
// tmpfs, overlayfs, ...) every writer runs here and a dead pid is decisive; on any other (NFS, Lustre, GPFS,
// ... where SLURM tasks on other nodes write) a temporary must also be untouched for
// kSharedFsTemporaryAge seconds, since a live writer elsewhere can have the same pid as a dead one here.
// Processes of another pid namespace writing into the same local directory are not supported.
inline constexpr double kSharedFsTemporaryAge = 3600;
std::vector<RemovedTemporary> remove_stale_temporaries(const std::string& dir, bool recursive);

}  // namespace sp::data
