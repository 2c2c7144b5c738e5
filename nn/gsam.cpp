// One GSAM step on a flat parameter buffer (see gsam.h). Tested in tests/test_gsam.cpp.
#include "nn/gsam.h"

#include <cmath>

#include "kernels/axpby.h"
#include "kernels/elementwise.h"
#include "kernels/error.h"
#include "kernels/reduce.h"

namespace sp {

namespace {

// Same epsilon as the GSAM reference implementation (perturb_eps) in every denominator.
constexpr double kPerturbEps = 1e-12;

// <a, b> through `tmp` (a scratch buffer of their shape), read back as a double.
double dot(Stream& s, const Tensor& a, const Tensor& b, const Tensor& tmp) {
  binary(s, tmp, a, b, BinaryOp::mul);
  Tensor out = Tensor::empty({1}, tmp.dtype(), s);
  sum_to_shape(s, out, tmp);
  return out.to(DType::f64, s).to_vector<double>(s)[0];
}

void check_gradient(const Tensor& w, const Tensor& g, const char* which) {
  SP_CHECK(g.defined() && g.shape() == w.shape() && g.dtype() == w.dtype() && g.device() == w.device(),
           "gsam_step: the gradient ", which, " is ", g.defined() ? g.str() : "undefined", ", parameters are ",
           w.str());
}

}  // namespace

double gsam_step(Stream& s, Optimizer& opt, const Tensor& w, double lr, const GsamConfig& c,
                 const std::function<Tensor(const Tensor& w, double* loss)>& grad_at) {
  SP_CHECK(w.defined() && w.is_contiguous() && is_floating(w.dtype()) && w.device() == s.device(),
           "gsam_step: parameters must be a contiguous floating tensor on the stream's device, got ",
           w.defined() ? w.str() : "undefined", " with a stream on ", s.device());
  SP_CHECK(std::isfinite(c.rho) && c.rho >= 0 && std::isfinite(c.alpha), "gsam_step: rho ", c.rho,
           " must be finite and >= 0 and alpha ", c.alpha, " finite");
  SP_CHECK(grad_at != nullptr, "gsam_step: no gradient callback");

  double loss = 0;
  // Our own copy: the callback may hand back the same buffer for the second gradient.
  Tensor g0 = grad_at(w, &loss);
  check_gradient(w, g0, "at w");
  Tensor g = g0.clone(s);
  Tensor tmp = Tensor::empty(w.shape(), w.dtype(), s);
  Tensor w0 = w.clone(s);

  const double g_norm = std::sqrt(dot(s, g, g, tmp));
  double scale_norm = g_norm;
  Tensor aux;  // adaptive only: w * g, then w^2
  if (c.adaptive) {
    // || |w| * g || = || w * g ||: the sign of w does not change the norm.
    aux = Tensor::empty(w.shape(), w.dtype(), s);
    binary(s, aux, w, g, BinaryOp::mul);
    scale_norm = std::sqrt(dot(s, aux, aux, tmp));
  }
  SP_CHECK(std::isfinite(scale_norm), "gsam_step: the gradient at w has a non-finite norm");

  // e into tmp, then w += e.
  const double scale = c.rho / (scale_norm + kPerturbEps);
  if (c.adaptive) {
    binary(s, aux, w, w, BinaryOp::mul);
    binary(s, tmp, g, aux, BinaryOp::mul, scale);
  } else {
    axpby(s, tmp, g, scale, 0.0);
  }
  axpby(s, w, tmp, 1.0, 1.0);

  double perturbed_loss = 0;
  Tensor gp;
  try {
    gp = grad_at(w, &perturbed_loss);
    check_gradient(w, gp, "at w + e");
  } catch (...) {
    w.copy_(w0, s);
    throw;
  }
  // Restore from the copy rather than w -= e: (w + e) - e need not round back to w.
  w.copy_(w0, s);

  const double gp_norm = std::sqrt(dot(s, gp, gp, tmp));
  const double inner = dot(s, g, gp, tmp);
  SP_CHECK(std::isfinite(gp_norm) && std::isfinite(inner), "gsam_step: the gradient at w + e has a non-finite norm");
  const double cosine = inner / (g_norm * gp_norm + kPerturbEps);
  // g_p - alpha (g - cos ||g|| g_p / (||g_p|| + eps)) = (1 + alpha cos ||g|| / (||g_p|| + eps)) g_p - alpha g.
  const double gp_coef = 1.0 + c.alpha * cosine * g_norm / (gp_norm + kPerturbEps);
  tmp.copy_(gp, s);
  axpby(s, tmp, g, -c.alpha, gp_coef);
  opt.step(s, w, tmp, lr);
  return loss;
}

}  // namespace sp
