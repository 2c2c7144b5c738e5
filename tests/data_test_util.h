// Helpers for the data tests: a per-process scratch folder, the shared CIFAR-10 image folder extracted once
// into the build tree (skipping with the reason when ../shared is absent), and a chi-square upper-tail
// p-value for the uniformity checks.
#pragma once
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "tests/shared_data_util.h"
#include "tests/test_util.h"

namespace sp::test {

// A fresh folder under the build tree, removed when the object dies.
class TempDir {
 public:
  explicit TempDir(const std::string& tag) {
    path_ = std::string(SP_BINARY_DIR) + "/test_tmp/" + tag + "-" + std::to_string(getpid());
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// P(X >= x) for X ~ chi-square with k degrees of freedom (regularised upper incomplete gamma Q(k/2, x/2)).
inline double chi_square_p_value(double x, int k) {
  double a = 0.5 * k, z = 0.5 * x;
  if (z <= 0) return 1.0;
  double lg = std::lgamma(a);
  if (z < a + 1) {  // series for P, then Q = 1 - P
    double sum = 1.0 / a, term = sum;
    for (int n = 1; n < 1000; ++n) {
      term *= z / (a + n);
      sum += term;
      if (term < sum * 1e-15) break;
    }
    return 1.0 - sum * std::exp(-z + a * std::log(z) - lg);
  }
  // Lentz continued fraction for Q.
  double b = z + 1 - a, c = 1e300, d = 1 / b, h = d;
  for (int n = 1; n < 1000; ++n) {
    double an = -n * (n - a);
    b += 2;
    d = an * d + b;
    d = std::abs(d) < 1e-300 ? 1e-300 : d;
    c = b + an / c;
    c = std::abs(c) < 1e-300 ? 1e-300 : c;
    d = 1 / d;
    double del = d * c;
    h *= del;
    if (std::abs(del - 1) < 1e-15) break;
  }
  return std::exp(-z + a * std::log(z) - lg) * h;
}

// Pearson's statistic of observed counts against equal expected counts.
inline double chi_square_uniform(const std::vector<int64_t>& counts) {
  double total = 0;
  for (int64_t c : counts) total += double(c);
  double e = total / double(counts.size()), x = 0;
  for (int64_t c : counts) x += (double(c) - e) * (double(c) - e) / e;
  return x;
}

}  // namespace sp::test

#define SP_REQUIRE_SHARED_CIFAR(var)                                       \
  std::string var;                                                         \
  do {                                                                     \
    std::string sp_why_;                                                   \
    var = ::sp::test::shared_cifar10_jpeg(&sp_why_);                       \
    if (var.empty()) GTEST_SKIP() << "skipped: " << sp_why_;               \
  } while (0)
