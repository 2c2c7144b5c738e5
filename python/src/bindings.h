// The parts of the Python module synpriv, each defined in its own file of python/src/ and registered by
// module.cpp. Tested through python/tests/.
#pragma once
#include <pybind11/pybind11.h>

namespace sp::py {

void bind_attacks(pybind11::module_& m);     // attacks.cpp: LiRA, RMIA, metrics, one-run audit, sp_lira
void bind_accountant(pybind11::module_& m);  // accountant.cpp: RDP and PRV accountants, sigma calibration
void bind_experiment(pybind11::module_& m);  // experiment.cpp: reading an experiment directory

}  // namespace sp::py
