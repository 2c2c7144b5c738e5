// Atomic whole-file write (see atomic_file.h).
#include "data/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "kernels/error.h"

namespace sp {

void write_file_atomic(const std::string& path, std::string_view bytes) {
  static std::atomic<uint64_t> counter{0};
  const std::string tmp = path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  SP_CHECK(fd >= 0, path, ": cannot create ", tmp, ": ", std::strerror(errno));
  std::string err;
  const char* p = bytes.data();
  size_t n = bytes.size();
  while (n > 0 && err.empty()) {
    ssize_t r = ::write(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      err = std::string("write failed: ") + std::strerror(errno);
    } else {
      p += r;
      n -= size_t(r);
    }
  }
  if (err.empty() && ::fsync(fd) != 0) err = std::string("fsync failed: ") + std::strerror(errno);
  if (::close(fd) != 0 && err.empty()) err = std::string("close failed: ") + std::strerror(errno);
  if (err.empty() && ::rename(tmp.c_str(), path.c_str()) != 0)
    err = "rename from " + tmp + " failed: " + std::strerror(errno);
  if (!err.empty()) {
    ::unlink(tmp.c_str());
    SP_FAIL(path, ": ", err);
  }
}

}  // namespace sp
