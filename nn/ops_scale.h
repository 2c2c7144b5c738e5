// scale(x, alpha) = alpha * x. The smallest complete op: kernel (kernels/axpby.h), forward, first-order
// backward, a differentiable backward built from ops, registration; the pattern every op in nn/ops_*.h
// follows. Tested in tests/test_ops_scale.cpp.
#pragma once
#include "nn/tape.h"

namespace sp::ag {
Var scale(Tape& t, Var x, double alpha);
}  // namespace sp::ag
