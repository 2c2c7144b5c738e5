// The Python module synpriv: registers the bindings of python/src/ and turns the C++ errors (sp::Error) into
// synpriv.Error, a ValueError carrying the C++ message unchanged. Built by python/CMakeLists.txt (and by
// `pip install .`); tested by python/tests/.
#include <pybind11/pybind11.h>

#include "kernels/error.h"
#include "python/src/bindings.h"

#ifndef SP_PYTHON_VERSION
#define SP_PYTHON_VERSION "0+unknown"
#endif

PYBIND11_MODULE(synpriv, m) {
  m.doc() =
      "synpriv: membership-inference attacks (LiRA, RMIA), their metrics and privacy bounds, the DP-SGD "
      "accountants, and experiment directories, on NumPy arrays. The computations are the C++ code of the "
      "synpriv tools (sp_lira, sp_accountant); errors raise synpriv.Error with the C++ message.";
  m.attr("__version__") = SP_PYTHON_VERSION;
  // sp::Error (bad input, bad files: what the tools print after "error:") becomes synpriv.Error; other C++
  // exceptions take pybind11's usual mapping (std::bad_alloc to MemoryError, the rest to RuntimeError), also with
  // their message.
  pybind11::register_exception<sp::Error>(m, "Error", PyExc_ValueError);
  sp::py::bind_attacks(m);
  sp::py::bind_accountant(m);
  sp::py::bind_experiment(m);
}
