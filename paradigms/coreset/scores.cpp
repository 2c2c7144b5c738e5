// Score-based coreset scores (see scores.h). Tested in tests/test_coreset_scores.cpp.
#include "paradigms/coreset/scores.h"

#include <algorithm>
#include <cmath>

#include "kernels/error.h"

namespace sp::coreset {

std::vector<double> softmax(std::span<const float> z) {
  SP_CHECK(!z.empty(), "coreset softmax: empty logits row");
  double m = *std::max_element(z.begin(), z.end()), sum = 0;
  std::vector<double> p(z.size());
  for (size_t c = 0; c < z.size(); ++c) sum += p[c] = std::exp(double(z[c]) - m);
  for (double& v : p) v /= sum;
  return p;
}

double el2n_score(std::span<const float> logits, int64_t label) {
  SP_CHECK(label >= 0 && label < int64_t(logits.size()), "el2n: label ", label, " outside ", logits.size(), " classes");
  std::vector<double> p = softmax(logits);
  double s = 0;
  for (size_t c = 0; c < p.size(); ++c) {
    double e = p[c] - (int64_t(c) == label ? 1.0 : 0.0);
    s += e * e;
  }
  return std::sqrt(s);
}

double grand_score(std::span<const float> logits, int64_t label, std::span<const float> features) {
  double h2 = 0;
  for (float v : features) h2 += double(v) * double(v);
  return el2n_score(logits, label) * std::sqrt(h2 + 1.0);
}

double uncertainty_score(std::span<const float> logits, Uncertainty kind) {
  std::vector<double> p = softmax(logits);
  switch (kind) {
    case Uncertainty::least_confidence:
      return 1.0 - *std::max_element(p.begin(), p.end());
    case Uncertainty::entropy: {
      double h = 0;
      for (double v : p) h -= v > 0 ? v * std::log(v) : 0.0;
      return h;
    }
    case Uncertainty::margin: {
      SP_CHECK(p.size() >= 2, "uncertainty margin: needs at least 2 classes");
      std::partial_sort(p.begin(), p.begin() + 2, p.end(), std::greater<double>());
      return p[1] - p[0];
    }
  }
  SP_FAIL("uncertainty: unknown score kind");
}

std::vector<double> score_rows(Method method, Uncertainty kind, const std::vector<float>& logits, int64_t C,
                               const std::vector<int64_t>& labels, const std::vector<float>& features, int64_t F) {
  const int64_t n = int64_t(labels.size());
  SP_CHECK(C > 0 && int64_t(logits.size()) == n * C, "coreset scores: ", logits.size(), " logits for ", n,
           " samples of ", C, " classes");
  SP_CHECK(method != Method::grand || (F > 0 && int64_t(features.size()) == n * F), "grand: ", features.size(),
           " feature values for ", n, " samples of ", F, " features");
  std::vector<double> s(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    std::span<const float> z(logits.data() + i * C, size_t(C));
    switch (method) {
      case Method::el2n: s[size_t(i)] = el2n_score(z, labels[size_t(i)]); break;
      case Method::grand:
        s[size_t(i)] = grand_score(z, labels[size_t(i)], std::span<const float>(features.data() + i * F, size_t(F)));
        break;
      case Method::uncertainty: s[size_t(i)] = uncertainty_score(z, kind); break;
      default: SP_FAIL("coreset scores: method ", method_name(method), " is not score-based");
    }
  }
  return s;
}

}  // namespace sp::coreset
