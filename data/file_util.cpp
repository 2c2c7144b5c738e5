// File helpers (see file_util.h).
#include "data/file_util.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "kernels/error.h"

namespace fs = std::filesystem;

namespace sp::data {

std::vector<uint8_t> read_file_bytes(const std::string& path) {
  FILE* f = fopen(path.c_str(), "rb");
  SP_CHECK(f, "cannot open '", path, "': ", strerror(errno));
  std::vector<uint8_t> out;
  uint8_t buf[1 << 16];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) out.insert(out.end(), buf, buf + n);
  bool err = ferror(f);
  fclose(f);
  SP_CHECK(!err, "read error on '", path, "'");
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
