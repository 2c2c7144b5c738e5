// Canary predictions and their nearest synthetic images (see canary_view.h).
#include "paradigms/distill/canary_view.h"

#include <cblas.h>

#include <limits>

#include "kernels/error.h"

namespace sp::distill {

namespace {
int64_t argmax(const float* z, int64_t k) {
  int64_t b = 0;
  for (int64_t j = 1; j < k; ++j)
    if (z[j] > z[b]) b = j;
  return b;
}
std::vector<double> row(const float* z, int64_t k) { return std::vector<double>(z, z + k); }
}  // namespace

int canary_outcome(int64_t predicted, int64_t training_label, int64_t true_label) {
  if (predicted == training_label) return 0;
  return predicted == true_label ? 1 : 2;
}

nlohmann::json canary_view(const CanaryInputs& in, CanaryCounts& counts) {
  const int64_t m = int64_t(in.indices.size());
  counts = {};
  nlohmann::json list = nlohmann::json::array();
  if (m == 0) return {{"canaries", list}, {"counts", {{"flipped", 0}, {"true", 0}, {"other", 0}}}};
  const Tensor ci = in.canary_images.contiguous(), si = in.synthetic_images.contiguous();
  const Tensor cz = in.canary_logits.contiguous(), sz = in.synthetic_logits.contiguous();
  const int64_t n = si.size(0), D = si.numel() / n, K = cz.size(1);
  SP_CHECK(ci.size(0) == m && ci.numel() / m == D && cz.size(0) == m && sz.size(0) == n && sz.size(1) == K &&
               int64_t(in.synthetic_labels.size()) == n,
           "canary view: inconsistent shapes (canaries ", ci.str(), ", synthetic ", si.str(), ")");
  // Squared distances |a|^2 + |b|^2 - 2 a.b: one GEMM.
  std::vector<float> dots(size_t(m * n));
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(m), int(n), int(D), 1.0f, ci.data<float>(), int(D),
              si.data<float>(), int(D), 0.0f, dots.data(), int(n));
  auto sq = [&](const float* p) {
    double s = 0;
    for (int64_t i = 0; i < D; ++i) s += double(p[i]) * double(p[i]);
    return s;
  };
  std::vector<double> sn(static_cast<size_t>(n), 0.0);
  for (int64_t j = 0; j < n; ++j) sn[size_t(j)] = sq(si.data<float>() + j * D);
  const char* names[] = {"flipped", "true", "other"};
  for (int64_t i = 0; i < m; ++i) {
    const double cn = sq(ci.data<float>() + i * D);
    int64_t best = 0;
    double bd = std::numeric_limits<double>::infinity();
    for (int64_t j = 0; j < n; ++j) {
      const double d = cn + sn[size_t(j)] - 2.0 * double(dots[size_t(i * n + j)]);
      if (d < bd) bd = d, best = j;
    }
    const int64_t pred = argmax(cz.data<float>() + i * K, K);
    const int o = canary_outcome(pred, in.training_labels[size_t(i)], in.true_labels[size_t(i)]);
    (o == 0 ? counts.flipped : o == 1 ? counts.true_label : counts.other) += 1;
    const int64_t src = in.synthetic_source.empty() ? -1 : in.synthetic_source[size_t(best)];
    list.push_back({{"audit_position", in.audit_positions[size_t(i)]},
                    {"index", in.indices[size_t(i)]},
                    {"true_label", in.true_labels[size_t(i)]},
                    {"training_label", in.training_labels[size_t(i)]},
                    {"predicted", pred},
                    {"outcome", names[o]},
                    {"logits", row(cz.data<float>() + i * K, K)},
                    {"nearest",
                     {{"row", best},
                      {"label", in.synthetic_labels[size_t(best)]},
                      {"squared_distance", std::max(0.0, bd)},
                      {"predicted", argmax(sz.data<float>() + best * K, K)},
                      {"logits", row(sz.data<float>() + best * K, K)},
                      {"started_from_this_canary", src == in.indices[size_t(i)]}}}});
  }
  return {{"canaries", list},
          {"counts", {{"flipped", counts.flipped}, {"true", counts.true_label}, {"other", counts.other}}}};
}

}  // namespace sp::distill
