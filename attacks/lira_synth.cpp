// Synthetic experiment writer (see lira_synth.h).
#include "attacks/lira_synth.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numeric>
#include <random>

#include "attacks/parallel.h"
#include "data/npy.h"

namespace sp::lira {
namespace fs = std::filesystem;

void write_synthetic_experiment(const std::string& dir, const SynthOptions& o) {
  SP_CHECK(o.S >= 1 && o.M >= 1 && o.A >= 1 && o.C >= 2, "synthetic experiment: need S, M, A >= 1 and C >= 2, got S=", o.S,
           " M=", o.M, " A=", o.A, " C=", o.C);
  SP_CHECK(o.P >= 0 && (o.P == 0 || o.layout == Layout::synpriv), "synthetic experiment: population samples (P = ",
           o.P, ") need the synpriv layout");
  const int64_t S = o.S, M = o.M, A = o.A, C = o.C, P = o.P, N = M + P;
  std::mt19937_64 g(o.seed);
  std::normal_distribution<double> nd(0.0, 1.0);
  // Samples 0..M-1 are the audit samples, M..N-1 the population.
  std::vector<int64_t> labels(static_cast<size_t>(N));
  std::vector<double> difficulty(static_cast<size_t>(N)), gain(static_cast<size_t>(N)), query_offset(size_t(N * A));
  std::vector<uint8_t> keep(size_t(S * M), 0);  // [S][M]
  std::vector<int64_t> perm(static_cast<size_t>(S));
  for (int64_t i = 0; i < N; ++i) {
    labels[size_t(i)] = int64_t(g() % uint64_t(C));
    difficulty[size_t(i)] = 3.0 + 2.0 * nd(g);
    gain[size_t(i)] = std::abs(o.gain * (1.0 + 0.5 * nd(g)));
    for (int64_t a = 0; a < A; ++a) query_offset[size_t(i * A + a)] = a == 0 ? 0.0 : 0.3 * nd(g);
    if (i >= M) continue;
    std::iota(perm.begin(), perm.end(), 0);
    std::shuffle(perm.begin(), perm.end(), g);
    for (int64_t k = 0; k < S / 2; ++k) keep[size_t(perm[size_t(k)] * M + i)] = 1;
  }

  fs::create_directories(dir);
  const bool tf = o.layout == Layout::tf_privacy;
  if (tf) {
    npy::write(dir + "/y_train.npy", std::vector<int64_t>{M}, labels);
  } else {
    fs::create_directories(dir + "/audit");
    npy::write(dir + "/audit/labels.npy", std::vector<int64_t>{M}, std::vector<int64_t>(labels.begin(), labels.begin() + M));
    if (P > 0) {
      fs::create_directories(dir + "/population");
      npy::write(dir + "/population/labels.npy", std::vector<int64_t>{P}, std::vector<int64_t>(labels.begin() + M, labels.end()));
    }
  }
  parallel_tasks(S, resolve_threads(o.threads), [&](int64_t s, int) {
    std::string mdir = tf ? dir + "/experiment-" + std::to_string(s) + "_" + std::to_string(S)
                          : dir + "/shadow/" + std::to_string(s);
    std::string ldir = tf ? mdir + "/logits" : mdir;
    fs::create_directories(ldir);
    std::vector<uint8_t> k(keep.begin() + std::ptrdiff_t(s * M), keep.begin() + std::ptrdiff_t((s + 1) * M));
    npy::write_bool(mdir + "/keep.npy", std::vector<int64_t>{M}, k);
    std::mt19937_64 r(o.seed * 0x9e3779b97f4a7c15ull + uint64_t(s) + 1);
    std::normal_distribution<double> n01(0.0, 1.0);
    std::vector<double> z(static_cast<size_t>(C));
    // Rows of samples [first, first + n) into `path`, shaped `shape`.
    auto write_rows = [&](const std::string& path, const std::vector<int64_t>& shape, int64_t first, int64_t n) {
      npy::Writer w(path, DType::f32, shape);
      const int64_t block = 1024;
      std::vector<float> buf(size_t(block * A * C));
      for (int64_t i0 = 0; i0 < n; i0 += block) {
        const int64_t b = std::min(block, n - i0);
        for (int64_t ii = 0; ii < b; ++ii) {
          const int64_t i = first + i0 + ii, y = labels[size_t(i)];
          const bool in = i < M && k[size_t(i)];
          const double model_margin = difficulty[size_t(i)] + (in ? gain[size_t(i)] : 0.0) + n01(r);
          for (int64_t a = 0; a < A; ++a) {
            double phi = model_margin + query_offset[size_t(i * A + a)] + 0.3 * n01(r);
            double mx = -1e300;
            for (int64_t j = 0; j < C; ++j)
              if (j != y) {
                z[size_t(j)] = 1.5 * n01(r);
                mx = std::max(mx, z[size_t(j)]);
              }
            double s_exp = 0;
            for (int64_t j = 0; j < C; ++j)
              if (j != y) s_exp += std::exp(z[size_t(j)] - mx);
            z[size_t(y)] = phi + mx + std::log(s_exp);
            float* row = &buf[size_t((ii * A + a) * C)];
            for (int64_t j = 0; j < C; ++j) row[j] = float(z[size_t(j)]);
          }
        }
        w.append(buf.data(), b * A * C);
      }
      w.commit();
    };
    write_rows(tf ? ldir + "/0000000100.npy" : ldir + "/logits.npy",
               tf ? std::vector<int64_t>{M, 1, A, C} : std::vector<int64_t>{M, A, C}, 0, M);
    if (P > 0) write_rows(mdir + "/population_logits.npy", {P, A, C}, M, P);
  });
}

}  // namespace sp::lira
