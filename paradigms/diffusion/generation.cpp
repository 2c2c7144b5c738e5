// The generated set of one shadow (see generation.h).
#include "paradigms/diffusion/generation.h"

#include <algorithm>
#include <cmath>

#include "kernels/counter_rng.h"
#include "paradigms/diffusion/unet_trainer.h"

namespace sp::diffusion {

GenerationPlan plan_generation(const DiffusionConfig& c, const std::vector<int64_t>& private_labels, int64_t classes) {
  GenerationPlan p;
  if (c.mode == Mode::img2img) {
    for (int64_t r = 0; r < c.per_image; ++r)
      for (size_t i = 0; i < private_labels.size(); ++i) {
        p.labels.push_back(private_labels[i]);
        p.source.push_back(int64_t(i));
      }
  } else {
    for (int64_t y = 0; y < classes; ++y)
      for (int64_t r = 0; r < c.per_class; ++r) {
        p.labels.push_back(y);
        p.source.push_back(-1);
      }
  }
  return p;
}

EpsFn eps_of(Stream& s, const models::Denoiser& unet, const Tensor& theta) {
  return [&s, &unet, theta](const Tensor& x, const std::vector<double>& t, const std::vector<int64_t>& labels) {
    Tape tape(s);
    tape.set_recording(false);
    models::DenoiseArgs a{t, unet.null_label() >= 0 ? labels : std::vector<int64_t>{}, false, 0, 0};
    return tape.value(unet.denoise(tape, tape.leaf(theta), tape.leaf(x), a));
  };
}

Tensor quantize(Stream& s, const Tensor& x) {
  std::vector<float> v = x.to(DType::f32, s).to_vector<float>(s);
  std::vector<uint8_t> q(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    const double u = std::round((double(v[i]) + 1.0) * 127.5);
    q[i] = uint8_t(std::isfinite(u) ? std::clamp(u, 0.0, 255.0) : 0.0);
  }
  return Tensor::from_vector(q, x.shape());
}

Tensor generate_rows(Stream& s, const models::Denoiser& unet, const Tensor& theta, const NoiseSchedule& ns,
                     const DiffusionConfig& c, const GenerationPlan& plan, const DeviceData& private_set, int64_t lo,
                     int64_t hi, uint64_t key) {
  SP_CHECK(0 <= lo && lo < hi && hi <= plan.size(), "generate_rows: rows [", lo, ", ", hi, ") of ", plan.size());
  const std::vector<int64_t> labels(plan.labels.begin() + lo, plan.labels.begin() + hi);
  const EpsFn eps = eps_of(s, unet, theta);
  const models::UNetConfig& u = unet.config();
  Tensor x;
  if (c.mode == Mode::img2img) {
    const std::vector<int64_t> src(plan.source.begin() + lo, plan.source.begin() + hi);
    x = sdedit(s, ns, c.sample, eps, to_model_space(s, private_set.images, src, {}), labels, c.strength, key);
  } else {
    x = sample(s, ns, c.sample, eps, labels, Shape{u.channels, u.image_size, u.image_size}, key);
  }
  return quantize(s, x);
}

}  // namespace sp::diffusion
