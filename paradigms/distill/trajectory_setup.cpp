// Trajectory matching's per-shadow preparation (see trajectory_setup.h).
#include "paradigms/distill/trajectory_setup.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "data/sha256.h"
#include "kernels/counter_rng.h"
#include "kernels/error.h"
#include "nn/ops_elementwise.h"
#include "nn/safetensors.h"
#include "paradigms/distill/class_pool.h"

namespace fs = std::filesystem;

namespace sp::distill {

namespace {

constexpr uint64_t kPurposeScan = 0x5350435343414eULL;  // "SPCSCAN": the per-class scan order

// x * scale + shift per channel (NCHW), without a recording tape.
Tensor channel_affine(Stream& s, const Tensor& x, const std::vector<double>& scale, const std::vector<double>& shift) {
  const int64_t C = x.size(1);
  SP_CHECK(int64_t(scale.size()) == C && int64_t(shift.size()) == C, "input space: ", scale.size(),
           " normalisation channels for images ", x.str());
  Tape t(s);
  t.set_recording(false);
  Var a = t.leaf(Tensor::from_vector(scale, {1, C, 1, 1}).to(x.dtype()).to(x.device(), s));
  Var b = t.leaf(Tensor::from_vector(shift, {1, C, 1, 1}).to(x.dtype()).to(x.device(), s));
  return t.value(ag::add(t, ag::mul(t, t.leaf(x), a), b));
}

// Logits (eval mode) of x [n, ...] (device) at flat parameters theta, in batches.
Tensor logits_at(const Model& net, const Tensor& theta, const Tensor& x, Stream& s, int64_t batch = 256) {
  Tensor th = theta.to(DType::f32).to(s.device(), s).contiguous(s);
  Tensor buffers = Tensor::zeros({net.buffers().numel()}, DType::f32, s);
  const int64_t n = x.size(0);
  std::vector<Tensor> parts;
  Tape t(s);
  t.set_recording(false);
  Tensor out;
  for (int64_t lo = 0; lo < n; lo += batch) {
    const int64_t len = std::min(batch, n - lo);
    Tensor z = t.value(net.forward(t, t.leaf(th), buffers, t.leaf(x.narrow(0, lo, len)), false));
    if (!out.defined()) out = Tensor::empty({n, z.size(1)}, DType::f32, s);
    out.narrow(0, lo, len).copy_(z, s);
    t.clear();
  }
  return out;
}

int64_t argmax_row(const float* z, int64_t k) {
  int64_t best = 0;
  for (int64_t j = 1; j < k; ++j)
    if (z[j] > z[best]) best = j;
  return best;
}

int64_t snapshot_index(const DistillConfig& c, const Tensor& expert) {
  return c.label_expert_epoch < 0 ? expert.size(0) - 1 : c.label_expert_epoch;
}

}  // namespace

Tensor InputSpace::from_normalized(Stream& s, const Tensor& x) const {
  if (!zca) return x;
  std::vector<double> shift = norm.mean;
  Tensor x01 = channel_affine(s, x, norm.std, shift);
  return zca->apply(s, x01);
}

Tensor InputSpace::to_normalized(Stream& s, const Tensor& x) const {
  if (!zca) return x;
  Tensor x01 = zca->unapply(s, x.contiguous(s));
  std::vector<double> scale, shift;
  for (size_t c = 0; c < norm.mean.size(); ++c) scale.push_back(1.0 / norm.std[c]), shift.push_back(-norm.mean[c] / norm.std[c]);
  return channel_affine(s, x01, scale, shift);
}

std::string private_set_digest(const data::TrainingSet& ts) {
  std::string bytes;
  bytes.append(reinterpret_cast<const char*>(ts.indices.data()), ts.indices.size() * sizeof(int64_t));
  bytes.append(reinterpret_cast<const char*>(ts.labels.data()), ts.labels.size() * sizeof(int64_t));
  return data::sha256_hex(bytes);
}

Zca shadow_zca(const std::string& zca_path, const Tensor& x01, double eps, const std::string& private_digest) {
  const int64_t D = x01.numel() / x01.size(0);
  if (fs::exists(zca_path)) {
    TensorFile h = read_safetensors_header(zca_path);
    auto meta = [&](const std::string& k) {
      auto it = h.metadata.find(k);
      return it == h.metadata.end() ? std::string("missing") : it->second;
    };
    SP_CHECK(meta("private_set") == private_digest, zca_path,
             ": fitted on another private set (another shadow or experiment); remove it (and experts/) to fit again");
    Zca z = load_zca(zca_path, D);
    SP_CHECK(std::abs(z.eps - eps) <= 1e-12 * eps, zca_path, ": fitted with eps ", z.eps, ", the configuration gives ",
             eps, "; remove it (and experts/) to fit again");
    return z;
  }
  Zca z = fit_zca(x01, eps);
  save_zca(zca_path, z, {{"private_set", private_digest}});
  return z;
}

std::vector<int64_t> samples_predicted_correctly(const DistillConfig& c, const std::vector<Tensor>& experts,
                                                 const Tensor& x, const std::vector<int64_t>& labels, int64_t classes,
                                                 uint64_t key, Stream& s, int64_t* experts_used) {
  std::unique_ptr<Model> net = make_model(c.net);
  std::vector<std::vector<int64_t>> by_class(static_cast<size_t>(classes));
  for (size_t i = 0; i < labels.size(); ++i) by_class[size_t(labels[i])].push_back(int64_t(i));
  std::vector<int64_t> out;
  int64_t most = 1;
  constexpr int64_t kBatch = 256;  // upstream's scan batch
  for (int64_t cls = 0; cls < classes; ++cls) {
    const std::vector<int64_t>& pool = by_class[size_t(cls)];
    std::vector<int64_t> order = random_prefix(pool, int64_t(pool.size()), crng::derive_key(key, kPurposeScan), uint64_t(cls));
    std::vector<int64_t> kept;
    size_t e = 0;
    while (int64_t(kept.size()) < c.ipc && e < experts.size()) {
      const Tensor& ex = experts[e];
      const Tensor theta = ex.narrow(0, snapshot_index(c, ex), 1).view({ex.size(1)});
      for (size_t lo = 0; lo < order.size() && int64_t(kept.size()) < c.ipc; lo += kBatch) {
        std::vector<int64_t> rows(order.begin() + lo, order.begin() + std::min(order.size(), lo + kBatch));
        Tensor ids = Tensor::from_vector(rows, {int64_t(rows.size())});
        Tensor xb = Tensor::empty({int64_t(rows.size()), x.size(1), x.size(2), x.size(3)}, DType::f32, s);
        for (size_t r = 0; r < rows.size(); ++r) xb.narrow(0, int64_t(r), 1).copy_(x.narrow(0, rows[r], 1), s);
        Tensor z = logits_at(*net, theta, xb, s).to(Device::cpu(), s).contiguous();
        const float* pz = z.data<float>();
        for (size_t r = 0; r < rows.size() && int64_t(kept.size()) < c.ipc; ++r)
          if (argmax_row(pz + r * size_t(classes), classes) == cls &&
              std::find(kept.begin(), kept.end(), rows[r]) == kept.end())
            kept.push_back(rows[r]);
      }
      if (int64_t(kept.size()) < c.ipc) ++e;
    }
    SP_CHECK(int64_t(kept.size()) == c.ipc, "distill.init samples_predicted_correctly: the ", experts.size(),
             " experts classify only ", kept.size(), " of the private set's ", pool.size(), " images of class ", cls,
             " as that class, fewer than ipc ", c.ipc, " (train the experts longer, lower ipc, or use init real)");
    most = std::max<int64_t>(most, int64_t(e) + 1);
    out.insert(out.end(), kept.begin(), kept.end());
  }
  if (experts_used) *experts_used = most;
  return out;
}

Tensor initial_label_logits(const DistillConfig& c, const std::vector<Tensor>& experts, const Tensor& images,
                            const std::vector<int64_t>& labels, int64_t classes, bool mean_over_experts, Stream& s,
                            int64_t* unmatched) {
  std::unique_ptr<Model> net = make_model(c.net);
  const int64_t n = images.size(0);
  const size_t use = mean_over_experts ? experts.size() : 1;
  std::vector<double> sum(size_t(n * classes), 0.0), all(size_t(n * classes), 0.0);
  std::vector<int64_t> hits(size_t(n), 0);
  for (size_t e = 0; e < use; ++e) {
    const Tensor& ex = experts[e];
    Tensor z = logits_at(*net, ex.narrow(0, snapshot_index(c, ex), 1).view({ex.size(1)}), images, s)
                   .to(Device::cpu(), s).contiguous();
    const float* pz = z.data<float>();
    for (int64_t i = 0; i < n; ++i) {
      const bool right = argmax_row(pz + i * classes, classes) == labels[size_t(i)];
      hits[size_t(i)] += right;
      for (int64_t j = 0; j < classes; ++j) {
        all[size_t(i * classes + j)] += pz[i * classes + j];
        if (right || !mean_over_experts) sum[size_t(i * classes + j)] += pz[i * classes + j];
      }
    }
  }
  std::vector<float> y(static_cast<size_t>(n * classes));
  int64_t none = 0;
  for (int64_t i = 0; i < n; ++i) {
    // An image no expert gets right would be 0/0 upstream: take the mean over every expert instead.
    const bool masked = mean_over_experts && hits[size_t(i)] > 0;
    none += mean_over_experts && hits[size_t(i)] == 0;
    const double d = masked ? double(hits[size_t(i)]) : double(use);
    for (int64_t j = 0; j < classes; ++j)
      y[size_t(i * classes + j)] = float((masked || !mean_over_experts ? sum : all)[size_t(i * classes + j)] / d);
  }
  if (unmatched) *unmatched = none;
  return Tensor::from_vector(y, {n, classes}).to(s.device(), s);
}

}  // namespace sp::distill
