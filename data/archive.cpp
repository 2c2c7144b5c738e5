// Checksum-verified one-time archive extraction (see archive.h).
#include "data/archive.h"

#include <spawn.h>
#include <sys/wait.h>

#include <cerrno>
#include <filesystem>
#include <fstream>

#include "data/file_util.h"
#include "data/sha256.h"
#include "kernels/error.h"

extern char** environ;
namespace fs = std::filesystem;

namespace sp::data {

int run_program(const std::vector<std::string>& argv) {
  SP_CHECK(!argv.empty(), "run_program: empty command");
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid;
  if (posix_spawnp(&pid, args[0], nullptr, nullptr, args.data(), environ) != 0) return -1;
  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

namespace {
const char* kStamp = ".sp_extracted";

std::string read_stamp(const fs::path& dir) {
  std::ifstream in(dir / kStamp);
  std::string s;
  if (in) in >> s;
  return s;
}
}  // namespace

std::string extract_archive_once(const std::string& archive, const std::string& sha256_hex, const std::string& dest) {
  fs::path d = fs::path(dest).lexically_normal();
  if (d.filename().empty()) d = d.parent_path();
  std::error_code ec;
  fs::create_directories(d.parent_path(), ec);
  SP_CHECK(!ec, "extract '", archive, "': cannot create '", d.parent_path().string(), "': ", ec.message());
  FileLock lock(d.string() + ".lock");
  if (fs::is_directory(d) && read_stamp(d) == sha256_hex) return d.string();

  SP_CHECK(fs::is_regular_file(archive), "extract: archive '", archive, "' not found");
  std::string got = sha256_file(archive);
  SP_CHECK(got == sha256_hex, "extract: '", archive, "' has sha256 ", got, ", expected ", sha256_hex,
           " (corrupt or different file)");
  std::string tmp = make_sibling_temp_dir(d.string());
  int rc = run_program({"tar", "-xzf", archive, "-C", tmp});
  if (rc != 0) {
    fs::remove_all(tmp, ec);
    SP_FAIL("extract: 'tar -xzf ", archive, "' failed (exit status ", rc, ")");
  }
  {
    std::ofstream stamp(fs::path(tmp) / kStamp);
    stamp << sha256_hex << "\n";
    SP_CHECK(stamp.good(), "extract: cannot write the stamp in '", tmp, "'");
  }
  if (fs::exists(d)) fs::remove_all(d);  // stale or from another archive: we hold the lock
  fs::rename(tmp, d, ec);
  if (ec) {
    fs::remove_all(tmp);
    SP_FAIL("extract: cannot move '", tmp, "' to '", d.string(), "': ", ec.message());
  }
  return d.string();
}

}  // namespace sp::data
