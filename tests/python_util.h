// Finding a Python interpreter with NumPy for the tests that check files with NumPy or compare against a
// NumPy reference implementation (tests/python/).
#pragma once
#include <cstdlib>
#include <string>

namespace sp::test {

// python3 on PATH, else Debian's /usr/bin/python3 (tools/install_deps.sh installs python3-numpy for it; a
// pyenv or venv python3 earlier on PATH may lack NumPy). "" when neither has it: callers fail, never skip.
inline std::string numpy_python() {
  for (const char* py : {"python3", "/usr/bin/python3"})
    if (std::system((std::string(py) + " -c 'import numpy' >/dev/null 2>&1").c_str()) == 0) return py;
  return "";
}

}  // namespace sp::test
