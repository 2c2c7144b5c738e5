// File helpers (see file_util.h).
#include "data/file_util.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

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

namespace {

std::string this_host() {
  char h[256] = {};
  if (gethostname(h, sizeof h - 1) != 0) return "";
  return h;
}

// Both the holder's line and its removal are best effort: the lock itself is the flock, and a lock file on
// a read-only or full file system must still lock.
void write_holder(int fd) {
  std::string line = std::to_string(long(getpid())) + " " + this_host() + "\n";
  if (ftruncate(fd, 0) == 0) (void)!pwrite(fd, line.data(), line.size(), 0);
}
void clear_holder(int fd) { (void)!ftruncate(fd, 0); }

// Local file systems: only processes of this host write there (statfs magic numbers, linux/magic.h).
bool is_local_file_system(const std::string& dir) {
  struct statfs st;
  if (statfs(dir.c_str(), &st) != 0) return false;
  switch (static_cast<unsigned long>(st.f_type)) {
    case 0xEF53:      // ext2/3/4
    case 0x58465342:  // xfs
    case 0x9123683E:  // btrfs
    case 0x01021994:  // tmpfs
    case 0x858458F6:  // ramfs
    case 0x794C7630:  // overlayfs
    case 0xF2F52010:  // f2fs
    case 0x2FC12FC1:  // zfs
    case 0x52654973:  // reiserfs
    case 0x3153464A:  // jfs
    case 0xCA451A4E:  // bcachefs
      return true;
    default:
      return false;
  }
}

bool all_of_class(const std::string& s, int (*cls)(int)) {
  if (s.empty()) return false;
  for (char c : s)
    if (!cls(static_cast<unsigned char>(c))) return false;
  return true;
}

// The temporaries below `dir` (or directly in it) whose name starts with `prefix` and whose process is gone.
std::vector<RemovedTemporary> stale_temporaries(const std::string& dir, bool recursive, const std::string& prefix) {
  std::vector<RemovedTemporary> found;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return found;
  const bool local = is_local_file_system(dir);
  const auto now = fs::file_time_type::clock::now();
  auto consider = [&](const fs::directory_entry& e) {
    const std::string name = e.path().filename().string();
    if (name.compare(0, prefix.size(), prefix) != 0) return false;
    const long pid = temporary_owner_pid(name);
    if (pid <= 0 || process_alive(pid)) return false;
    if (!local) {
      std::error_code tec;
      auto t = fs::last_write_time(e.path(), tec);
      if (tec || std::chrono::duration<double>(now - t).count() < kSharedFsTemporaryAge) return false;
    }
    found.push_back({e.path().string(), pid});
    return true;
  };
  if (recursive) {
    fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec), end;
    for (; !ec && it != end; it.increment(ec))
      if (consider(*it)) it.disable_recursion_pending();  // the whole folder goes
  } else {
    fs::directory_iterator it(dir, ec), end;
    for (; !ec && it != end; it.increment(ec)) consider(*it);
  }
  return found;
}

// Removes what stale_temporaries found (after the listing: a directory changing while it is read may skip
// or repeat entries); what cannot be removed is left out of the result.
std::vector<RemovedTemporary> remove_found(std::vector<RemovedTemporary> found) {
  std::vector<RemovedTemporary> removed;
  for (RemovedTemporary& r : found) {
    std::error_code ec;
    if (fs::remove_all(r.path, ec) > 0 && !ec) removed.push_back(std::move(r));
  }
  return removed;
}

}  // namespace

std::string LockHolder::str() const {
  if (pid <= 0) return "another process";
  std::string s = "pid " + std::to_string(pid);
  if (!host.empty() && host != this_host()) s += " on " + host;
  return s;
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
  write_holder(fd_);
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

LockHolder FileLock::holder(const std::string& path) {
  LockHolder h;
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line)) return h;
  std::istringstream ss(line);
  long pid = 0;
  if (ss >> pid && pid > 0) {
    h.pid = pid;
    ss >> h.host;
  }
  // A holder killed with SIGKILL leaves its line until the next holder writes its own.
  if ((h.host.empty() || h.host == this_host()) && !process_alive(h.pid)) h = LockHolder{};
  return h;
}

FileLock::~FileLock() {
  if (fd_ >= 0) {
    clear_holder(fd_);
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
  name += ".tmp.";
  // A writer killed before its rename left a folder as large as the whole extraction: gone with it.
  for (const RemovedTemporary& r : remove_found(stale_temporaries(parent.string(), false, name)))
    std::fprintf(stderr, "note: removed the stale temporary folder %s (process %ld is gone)\n", r.path.c_str(), r.pid);
  name += std::to_string(long(getpid()));
  name += ".XXXXXX";
  std::string tmpl = (parent / name).string();
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  SP_CHECK(mkdtemp(buf.data()), "cannot create a temporary directory beside '", final_path, "': ", strerror(errno));
  return std::string(buf.data());
}

bool process_alive(long pid) {
  if (pid <= 0 || pid > long(INT32_MAX)) return false;
  if (::kill(pid_t(pid), 0) != 0 && errno != EPERM) return false;
  // A zombie holds no files open and writes nothing more; its parent just has not reaped it.
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!stat || !std::getline(stat, text)) return true;  // no /proc: kill() said it exists
  size_t close_paren = text.rfind(')');  // the state follows "pid (command name) "
  if (close_paren == std::string::npos || close_paren + 2 >= text.size()) return true;
  const char state = text[close_paren + 2];
  return state != 'Z' && state != 'X';
}

long temporary_owner_pid(const std::string& name) {
  const std::string mark = ".tmp.";
  size_t at = name.rfind(mark);
  // The last ".tmp.": NAME itself may contain one.
  if (at == std::string::npos || at == 0) return 0;
  std::string rest = name.substr(at + mark.size());
  size_t dot = rest.find('.');
  std::string pid = rest.substr(0, dot);
  if (!all_of_class(pid, isdigit) || pid.size() > 9) return 0;
  if (dot != std::string::npos) {
    std::string suffix = rest.substr(dot + 1);
    bool counter = all_of_class(suffix, isdigit);                             // NAME.tmp.<pid>.<n>
    bool folder = name[0] == '.' && suffix.size() == 6 && all_of_class(suffix, isalnum);  // mkdtemp's XXXXXX
    if (!counter && !folder) return 0;
  }
  return std::stol(pid);
}

std::vector<RemovedTemporary> remove_stale_temporaries(const std::string& dir, bool recursive) {
  return remove_found(stale_temporaries(dir, recursive, ""));
}

}  // namespace sp::data
