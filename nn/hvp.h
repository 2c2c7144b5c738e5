// Hessian-vector products by double backward (exact, no finite differences): for a scalar loss L recorded
// on a tape with parameters theta, and a direction v of theta's shape,
//   hvp(L, theta, v)        = H v = d/dtheta <grad_theta L, v>,
//   mixed_hvp(L, theta, v, x) = d/dx <grad_theta L, v>   (DC's image gradient, MTT's adjoint step),
//   directional_grad_vjp(L, theta, v, wrt) = d/dw <grad_theta L, v> for every w in wrt at once.
// They leave the tape intact. Tested in tests/test_hvp.cpp (central differences of the gradient on a
// small network) and against PyTorch in tests/test_second_order_golden.cpp.
#pragma once
#include <span>
#include <vector>

#include "nn/tape.h"

namespace sp {

std::vector<Tensor> directional_grad_vjp(Tape& t, Var loss, Var theta, const Tensor& v, std::span<const Var> wrt);
Tensor hvp(Tape& t, Var loss, Var theta, const Tensor& v);
Tensor mixed_hvp(Tape& t, Var loss, Var theta, const Tensor& v, Var x);

}  // namespace sp
