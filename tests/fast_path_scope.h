// FastPath: turns the CPU float32 fast path (kernels/cpu/fast_path.h) on or off for one scope and restores
// the previous setting, for tests that compare the fast path with the reference kernels.
#pragma once
#include "kernels/cpu/fast_path.h"

namespace sp::test {

struct FastPath {
  bool before;
  explicit FastPath(bool on) : before(cpu::fast_path()) { cpu::set_fast_path(on); }
  ~FastPath() { cpu::set_fast_path(before); }
  FastPath(const FastPath&) = delete;
  FastPath& operator=(const FastPath&) = delete;
};

}  // namespace sp::test
