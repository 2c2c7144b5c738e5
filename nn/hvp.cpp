// Hessian-vector products (see hvp.h): grad_graph for grad_theta L, its inner product with the constant
// v on the tape, then one first-order sweep.
#include "nn/hvp.h"

#include "kernels/error.h"
#include "nn/ops_elementwise.h"
#include "nn/ops_reduce.h"

namespace sp {

std::vector<Tensor> directional_grad_vjp(Tape& t, Var loss, Var theta, const Tensor& v, std::span<const Var> wrt) {
  const Tensor& th = t.value(theta);
  SP_CHECK(v.shape() == th.shape() && v.dtype() == th.dtype() && v.device() == th.device(),
           "hvp: direction ", v.str(), " does not match the parameters ", th.str());
  Var g = t.grad_graph(loss, {theta})[0];
  Var dir = ag::sum(t, ag::mul(t, g, t.leaf(v)));
  return t.grad(dir, wrt);
}

Tensor hvp(Tape& t, Var loss, Var theta, const Tensor& v) {
  return directional_grad_vjp(t, loss, theta, v, std::span<const Var>(&theta, 1))[0];
}

Tensor mixed_hvp(Tape& t, Var loss, Var theta, const Tensor& v, Var x) {
  return directional_grad_vjp(t, loss, theta, v, std::span<const Var>(&x, 1))[0];
}

}  // namespace sp
