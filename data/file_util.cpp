// File helpers (see file_util.h).
#include "data/file_util.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "kernels/error.h"

namespace fs = std::filesystem;

namespace sp::data {

namespace {

const char* file_kind(mode_t m) {
  if (S_ISDIR(m)) return "a directory";
  if (S_ISFIFO(m)) return "a FIFO";
  if (S_ISCHR(m)) return "a character device";
  if (S_ISBLK(m)) return "a block device";
  if (S_ISSOCK(m)) return "a socket";
  return "not a regular file";
}

}  // namespace

int open_regular_file(const std::string& path) {
  // O_NONBLOCK only so that opening a FIFO returns at once; it is cleared before any read.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  SP_CHECK(fd >= 0, "cannot open '", path, "': ", strerror(errno));
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    const int e = errno;
    const bool stat_failed = !S_ISREG(st.st_mode) && st.st_mode == 0;
    ::close(fd);
    SP_CHECK(!stat_failed, "cannot stat '", path, "': ", strerror(e));
    SP_FAIL("'", path, "' is ", file_kind(st.st_mode), ", not a regular file");
  }
  const int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0) {
    const int e = errno;
    ::close(fd);
    SP_FAIL("cannot set up reading of '", path, "': ", strerror(e));
  }
  return fd;
}

void require_regular_file(const std::string& path) {
  struct stat st {};
  SP_CHECK(::stat(path.c_str(), &st) == 0, "cannot open '", path, "': ", strerror(errno));
  SP_CHECK(S_ISREG(st.st_mode), "'", path, "' is ", file_kind(st.st_mode), ", not a regular file");
}

std::vector<uint8_t> read_file_bytes(const std::string& path) {
  const int fd = open_regular_file(path);
  struct stat st {};
  std::vector<uint8_t> out;
  if (fstat(fd, &st) == 0 && st.st_size > 0) out.reserve(size_t(st.st_size));
  uint8_t buf[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int e = errno;
      ::close(fd);
      SP_FAIL("read error on '", path, "': ", strerror(e));
    }
    if (n == 0) break;
    out.insert(out.end(), buf, buf + n);
  }
  ::close(fd);
  return out;
}

FileLock::FileLock(const std::string& path) : FileLock(path, true) {}

FileLock::FileLock(const std::string& path, bool wait) {
  fd_ = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  SP_CHECK(fd_ >= 0, "cannot open lock file '", path, "': ", strerror(errno));
  while (flock(fd_, LOCK_EX | (wait ? 0 : LOCK_NB)) != 0) {
    if (errno == EINTR) continue;
    int e = errno;
    close(fd_);
    fd_ = -1;
    if (!wait && e == EWOULDBLOCK) return;
    SP_FAIL("cannot lock '", path, "': ", strerror(e));
  }
}

std::unique_ptr<FileLock> FileLock::try_lock(const std::string& path) {
  std::unique_ptr<FileLock> l(new FileLock(path, false));
  if (l->fd_ < 0) l.reset();
  return l;
}

bool FileLock::is_held(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool held = false;
  while (flock(fd, LOCK_SH | LOCK_NB) != 0) {
    if (errno == EINTR) continue;
    held = errno == EWOULDBLOCK;
    break;
  }
  close(fd);  // closing releases a shared lock we may have taken
  return held;
}

FileLock::~FileLock() {
  if (fd_ >= 0) {
    flock(fd_, LOCK_UN);
    close(fd_);
  }
}

std::string make_sibling_temp_dir(const std::string& final_path) {
  fs::path p = fs::path(final_path).lexically_normal();
  if (p.filename().empty()) p = p.parent_path();
  fs::path parent = p.parent_path().empty() ? fs::path(".") : p.parent_path();
  std::error_code ec;
  fs::create_directories(parent, ec);
  SP_CHECK(!ec, "cannot create directory '", parent.string(), "': ", ec.message());
  std::string name = ".";  // built piecewise: GCC 12 warns falsely (-Wrestrict) on "." + str + "..."
  name += p.filename().string();
  name += ".tmp-XXXXXX";
  std::string tmpl = (parent / name).string();
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  SP_CHECK(mkdtemp(buf.data()), "cannot create a temporary directory beside '", final_path, "': ", strerror(errno));
  return std::string(buf.data());
}

}  // namespace sp::data
