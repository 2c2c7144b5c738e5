// CPU reference for the losses (see kernels/loss.h): row statistics and batch sums in double, per-element
// formulas from kernels/softmax_math.h.
#include "kernels/loss.h"

#include "kernels/dispatch.h"
#include "kernels/norm_math.h"
#include "kernels/softmax_math.h"

namespace sp {
namespace {

template <class T>
double row_lse(const T* x, int64_t C, double inv_temperature = 1.0) {
  stat::MaxSum<double> ms;
  for (int64_t j = 0; j < C; ++j) ms.push(double(x[j]) * inv_temperature);
  return ms.lse();
}

void ce_fwd_cpu(Stream&, const Tensor& loss, const Tensor& lse, const Tensor& logits, const Tensor& labels,
                double smoothing) {
  const int64_t N = logits.size(0), C = logits.size(1);
  const int64_t* y = labels.data<int64_t>();
  SP_DISPATCH_FLOAT(logits.dtype(), "cross_entropy", {
    using T = scalar_t;
    const T* x = logits.data<T>();
    double total = 0;
    for (int64_t i = 0; i < N; ++i) {
      const T* xr = x + i * C;
      const double l = row_lse(xr, C);
      double nll_sum = 0;
      if (smoothing != 0.0)
        for (int64_t j = 0; j < C; ++j) nll_sum += l - double(xr[j]);
      total += smx::ce_hard_row_loss<double>(l - double(xr[y[i]]), nll_sum, smoothing, double(C));
      lse.data<T>()[i] = T(l);
    }
    loss.data<T>()[0] = T(total / double(N));
  });
}

void ce_bwd_cpu(Stream&, const Tensor& dlogits, const Tensor& grad_loss, const Tensor& logits, const Tensor& labels,
                const Tensor& lse, double smoothing, double beta) {
  const int64_t N = logits.size(0), C = logits.size(1);
  const int64_t* y = labels.data<int64_t>();
  SP_DISPATCH_FLOAT(logits.dtype(), "cross_entropy backward", {
    using T = scalar_t;
    const T* x = logits.data<T>();
    const T* l = lse.data<T>();
    T* g = dlogits.data<T>();
    const T scale = T(double(grad_loss.data<T>()[0]) / double(N));
    for (int64_t i = 0; i < N; ++i)
      for (int64_t j = 0; j < C; ++j)
        stat::store_grad(g[i * C + j], smx::ce_hard_grad<T>(x[i * C + j], l[i], j == y[i], T(smoothing), T(C), scale),
                         T(beta));
  });
}

void soft_ce_fwd_cpu(Stream&, const Tensor& loss, const Tensor& lse, const Tensor& target_sum, const Tensor& logits,
                     const Tensor& targets, double smoothing) {
  const int64_t N = logits.size(0), C = logits.size(1);
  SP_DISPATCH_FLOAT(logits.dtype(), "cross_entropy (soft targets)", {
    using T = scalar_t;
    const T* x = logits.data<T>();
    const T* t = targets.data<T>();
    double total = 0;
    for (int64_t i = 0; i < N; ++i) {
      const double l = row_lse(x + i * C, C);
      double row = 0, tsum = 0;
      for (int64_t j = 0; j < C; ++j) {
        const double ts = smx::smooth_target<double>(double(t[i * C + j]), smoothing, double(C));
        row += ts * (l - double(x[i * C + j]));
        tsum += ts;
      }
      total += row;
      lse.data<T>()[i] = T(l);
      target_sum.data<T>()[i] = T(tsum);
    }
    loss.data<T>()[0] = T(total / double(N));
  });
}

void soft_ce_bwd_cpu(Stream&, const Tensor& dlogits, const Tensor& dtargets, const Tensor& grad_loss,
                     const Tensor& logits, const Tensor& targets, const Tensor& lse, const Tensor& target_sum,
                     double smoothing, double beta_logits, double beta_targets) {
  const int64_t N = logits.size(0), C = logits.size(1);
  SP_DISPATCH_FLOAT(logits.dtype(), "cross_entropy (soft targets) backward", {
    using T = scalar_t;
    const T* x = logits.data<T>();
    const T* t = targets.data<T>();
    const T* l = lse.data<T>();
    const T* ts = target_sum.data<T>();
    T* gl = data_or_null<T>(dlogits);
    T* gt = data_or_null<T>(dtargets);
    const T scale = T(double(grad_loss.data<T>()[0]) / double(N)), eps = T(smoothing);
    for (int64_t i = 0; i < N; ++i)
      for (int64_t j = 0; j < C; ++j) {
        const int64_t k = i * C + j;
        if (gl)
          stat::store_grad(gl[k],
                           smx::ce_soft_grad_logit(x[k], l[i], smx::smooth_target(t[k], eps, T(C)), ts[i], scale),
                           T(beta_logits));
        if (gt) stat::store_grad(gt[k], smx::ce_soft_grad_target(x[k], l[i], eps, scale), T(beta_targets));
      }
  });
}

void kl_fwd_cpu(Stream&, const Tensor& loss, const Tensor& lse_s, const Tensor& lse_t, const Tensor& row_kl,
                const Tensor& student, const Tensor& teacher, double temperature) {
  const int64_t N = student.size(0), C = student.size(1);
  SP_DISPATCH_FLOAT(student.dtype(), "kl_div", {
    using T = scalar_t;
    const T* s = student.data<T>();
    const T* t = teacher.data<T>();
    double total = 0;
    for (int64_t i = 0; i < N; ++i) {
      const double ls = row_lse(s + i * C, C, 1.0 / temperature), lt = row_lse(t + i * C, C, 1.0 / temperature);
      double kl = 0;
      for (int64_t j = 0; j < C; ++j)
        kl += smx::kl_term<double>(double(t[i * C + j]) / temperature - lt, double(s[i * C + j]) / temperature - ls);
      total += kl;
      lse_s.data<T>()[i] = T(ls);
      lse_t.data<T>()[i] = T(lt);
      row_kl.data<T>()[i] = T(kl);
    }
    loss.data<T>()[0] = T(total * temperature * temperature / double(N));
  });
}

void kl_bwd_cpu(Stream&, const Tensor& dstudent, const Tensor& dteacher, const Tensor& grad_loss, const Tensor& student,
                const Tensor& teacher, const Tensor& lse_s, const Tensor& lse_t, const Tensor& row_kl,
                double temperature, double beta_s, double beta_t) {
  const int64_t N = student.size(0), C = student.size(1);
  SP_DISPATCH_FLOAT(student.dtype(), "kl_div backward", {
    using T = scalar_t;
    const T* s = student.data<T>();
    const T* t = teacher.data<T>();
    T* gs = data_or_null<T>(dstudent);
    T* gt = data_or_null<T>(dteacher);
    const T scale = T(double(grad_loss.data<T>()[0]) * temperature / double(N)), temp = T(temperature);
    for (int64_t i = 0; i < N; ++i)
      for (int64_t j = 0; j < C; ++j) {
        const int64_t k = i * C + j;
        const T log_q = t[k] / temp - lse_t.data<T>()[i], log_p = s[k] / temp - lse_s.data<T>()[i];
        if (gs) stat::store_grad(gs[k], smx::kl_grad_student(log_q, log_p, scale), T(beta_s));
        if (gt) stat::store_grad(gt[k], smx::kl_grad_teacher(log_q, log_p, row_kl.data<T>()[i], scale), T(beta_t));
      }
  });
}

void mse_fwd_cpu(Stream&, const Tensor& loss, const Tensor& a, const Tensor& b) {
  const int64_t n = a.numel();
  SP_DISPATCH_FLOAT(a.dtype(), "mse_loss", {
    const scalar_t* ap = a.data<scalar_t>();
    const scalar_t* bp = b.data<scalar_t>();
    double total = 0;
    for (int64_t i = 0; i < n; ++i) {
      const double d = double(ap[i] - bp[i]);
      total += d * d;
    }
    loss.data<scalar_t>()[0] = scalar_t(total / double(n));
  });
}

void mse_bwd_cpu(Stream&, const Tensor& da, const Tensor& db, const Tensor& grad_loss, const Tensor& a, const Tensor& b,
                 double beta_a, double beta_b) {
  const int64_t n = a.numel();
  SP_DISPATCH_FLOAT(a.dtype(), "mse_loss backward", {
    using T = scalar_t;
    const T* ap = a.data<T>();
    const T* bp = b.data<T>();
    T* ga = data_or_null<T>(da);
    T* gb = data_or_null<T>(db);
    const T scale = T(2.0 * double(grad_loss.data<T>()[0]) / double(n));
    for (int64_t i = 0; i < n; ++i) {
      const T g = scale * (ap[i] - bp[i]);
      if (ga) stat::store_grad(ga[i], g, T(beta_a));
      if (gb) stat::store_grad(gb[i], -g, T(beta_b));
    }
  });
}

}  // namespace
SP_REGISTER_KERNEL(k_cross_entropy_fwd, CPU, ce_fwd_cpu);
SP_REGISTER_KERNEL(k_cross_entropy_bwd, CPU, ce_bwd_cpu);
SP_REGISTER_KERNEL(k_soft_cross_entropy_fwd, CPU, soft_ce_fwd_cpu);
SP_REGISTER_KERNEL(k_soft_cross_entropy_bwd, CPU, soft_ce_bwd_cpu);
SP_REGISTER_KERNEL(k_kl_div_fwd, CPU, kl_fwd_cpu);
SP_REGISTER_KERNEL(k_kl_div_bwd, CPU, kl_bwd_cpu);
SP_REGISTER_KERNEL(k_mse_fwd, CPU, mse_fwd_cpu);
SP_REGISTER_KERNEL(k_mse_bwd, CPU, mse_bwd_cpu);
}  // namespace sp
