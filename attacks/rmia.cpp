// RMIA (see rmia.h).
#include "attacks/rmia.h"

#include <cmath>
#include <limits>

#include "attacks/parallel.h"
#include "attacks/roc.h"
#include "data/npy.h"
#include "kernels/error.h"

namespace sp::lira {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

template <class T>
double log_prob_row(const T* z, int64_t C, int64_t y, double temperature) {
  if (y < 0 || y >= C) return kNaN;
  double m = -std::numeric_limits<double>::infinity();
  for (int64_t j = 0; j < C; ++j) {
    double v = double(z[j]);
    if (!std::isfinite(v)) return kNaN;
    m = std::max(m, v / temperature);
  }
  double s = 0;
  for (int64_t j = 0; j < C; ++j) s += std::exp(double(z[j]) / temperature - m);
  return double(z[y]) / temperature - m - std::log(s);
}

// log Pr(label) of rows [n, AF, C] of one model, views[a] of each row, into out[(row * A + a) * S + s] with
// A = views.size(); returns the rows with a non-finite logit in a used view (their entries are NaN).
std::vector<uint8_t> read_log_probs(const npy::Reader& r, int64_t n, int64_t AF, const std::vector<int64_t>& views,
                                    int64_t C, const std::vector<int64_t>& labels, double temperature, int64_t S,
                                    int64_t s, std::vector<double>& out) {
  const int64_t A = int64_t(views.size());
  std::vector<uint8_t> ok(size_t(n), 1);
  const size_t item = dtype_size(r.dtype());
  const int64_t block = 256;
  std::vector<char> buf(size_t(block * AF * C) * item);
  for (int64_t i0 = 0; i0 < n; i0 += block) {
    const int64_t m = std::min(block, n - i0);
    r.read(buf.data(), i0 * AF * C, m * AF * C);
    for (int64_t ii = 0; ii < m; ++ii)
      for (int64_t a = 0; a < A; ++a) {
        const size_t row = size_t((ii * AF + views[size_t(a)]) * C);
        const int64_t y = labels[size_t(i0 + ii)];
        double v = r.dtype() == DType::f32
                       ? log_prob_row(reinterpret_cast<const float*>(buf.data()) + row, C, y, temperature)
                       : log_prob_row(reinterpret_cast<const double*>(buf.data()) + row, C, y, temperature);
        if (std::isnan(v)) ok[size_t(i0 + ii)] = 0;
        out[size_t(((i0 + ii) * A + a) * S + s)] = v;
      }
  }
  return ok;
}

std::unique_ptr<npy::Reader> open_logits(const std::string& path, int64_t rows, const char* rows_what, int64_t A,
                                         int64_t C, const std::string& shape_source) {
  auto r = std::make_unique<npy::Reader>(path);
  const auto& sh = r->shape();
  SP_CHECK(r->dtype() == DType::f32 || r->dtype() == DType::f64, path, ": logits must be float32 (or float64), got ",
           npy::descr_of(r->dtype()));
  SP_CHECK(sh.size() == 3, path, ": logits must have shape [N, A, C], got ", npy::shape_str(sh));
  SP_CHECK(sh[0] >= rows, path, ": ", sh[0], " rows, but ", rows, " ", rows_what, " are needed");
  SP_CHECK(sh[1] == A && sh[2] == C, path, ": shape ", npy::shape_str(sh), " has A = ", sh[1], ", C = ", sh[2],
           " but ", shape_source, " has A = ", A, ", C = ", C);
  return r;
}

// Everything run_rmia needs for one (target, reference set, mode, a): fills scores[0..M) (NaN: not scored)
// and returns the number of valid pairs left without the references the mode needs.
struct Scorer {
  const RmiaData& d;
  double log_gamma;

  bool equalize;

  int64_t score(int64_t t, int64_t skip, bool online, double a, std::vector<double>& u, std::vector<double>& w,
                double* scores) const {
    const int64_t S = d.S, M = d.M, P = d.P, A = d.A;
    auto is_ref = [&](int64_t s) { return s != t && s != skip; };
    // w[z][v] = log Pr(z_v|θ_t) - log Pr(z_v) for the population samples usable with this target.
    w.clear();
    for (int64_t z = 0; z < P; ++z) {
      if (!d.valid_z[size_t(z * S + t)]) continue;
      const size_t start = w.size();
      bool usable = true;
      for (int64_t v = 0; v < A && usable; ++v) {
        const double* lp = &d.logp_z[size_t((z * A + v) * S)];
        double sum = 0;
        int64_t n = 0;
        for (int64_t s = 0; s < S; ++s)
          if (is_ref(s) && d.valid_z[size_t(z * S + s)]) {
            sum += std::exp(lp[s]);
            ++n;
          }
        usable = n > 0;
        const double pz = ((1 + a) * (sum / double(n)) + 1 - a) / 2;
        w.push_back(lp[t] - std::log(pz));
      }
      if (!usable) w.resize(start);
    }
    const int64_t nz = int64_t(w.size()) / A;
    int64_t unscored = 0;
    u.assign(size_t(A), 0.0);
    for (int64_t i = 0; i < M; ++i) {
      scores[i] = kNaN;
      if (!d.valid_x[size_t(i * S + t)]) continue;
      // With equalize, the fold also leaves out one reference of the group the target is not in (the LiRA
      // attacks' fold_drop_index), so the reference counts do not reveal the target's membership.
      int64_t drop = -1;
      if (equalize) {
        const uint8_t mt = d.member[size_t(i * S + t)];
        std::vector<int64_t> other;
        for (int64_t s = 0; s < S; ++s)
          if (is_ref(s) && d.valid_x[size_t(i * S + s)] && d.member[size_t(i * S + s)] != mt) other.push_back(s);
        if (!other.empty()) drop = other[size_t(fold_drop_index(i, t, int64_t(other.size())))];
      }
      bool ok = nz > 0;
      for (int64_t v = 0; v < A && ok; ++v) {
        const double* lp = &d.logp_x[size_t((i * A + v) * S)];
        double sum_in = 0, sum_out = 0;
        int64_t n_in = 0, n_out = 0;
        for (int64_t s = 0; s < S; ++s) {
          if (!is_ref(s) || s == drop || !d.valid_x[size_t(i * S + s)]) continue;
          if (d.member[size_t(i * S + s)]) {
            sum_in += std::exp(lp[s]);
            ++n_in;
          } else {
            sum_out += std::exp(lp[s]);
            ++n_out;
          }
        }
        double px;
        if (online) {
          ok = n_in > 0 && n_out > 0;
          px = ok ? (sum_in / double(n_in) + sum_out / double(n_out)) / 2 : 0;
        } else {
          ok = n_out > 0;
          px = ok ? ((1 + a) * (sum_out / double(n_out)) + 1 - a) / 2 : 0;
        }
        u[size_t(v)] = ok ? lp[t] - std::log(px) : 0;
      }
      if (!ok) {
        ++unscored;
        continue;
      }
      int64_t count = 0;
      for (int64_t z = 0; z < nz; ++z) {
        const double* wz = &w[size_t(z * A)];
        int64_t votes = 0;
        for (int64_t v = 0; v < A; ++v) votes += u[size_t(v)] - wz[v] >= log_gamma;
        count += 2 * votes > A;
      }
      scores[i] = double(count) / double(nz);
    }
    return unscored;
  }
};

// The offline attack's AUC on model q for each candidate a; the first best a.
double calibrate_a(const Scorer& sc, int64_t t, int64_t q, double fallback, std::vector<double>& u,
                   std::vector<double>& w) {
  const RmiaData& d = sc.d;
  std::vector<double> s(size_t(d.M));
  std::vector<uint8_t> label(size_t(d.M));
  for (int64_t i = 0; i < d.M; ++i) label[size_t(i)] = d.member[size_t(i * d.S + q)];
  double best_a = fallback, best_auc = -1;
  for (int k = 0; k <= 10; ++k) {
    const double a = 0.1 * k;
    sc.score(q, t, false, a, u, w, s.data());
    const double auc = roc_auc(roc_curve(s, label));
    if (std::isfinite(auc) && auc > best_auc) {
      best_auc = auc;
      best_a = a;
    }
  }
  return best_a;
}

}  // namespace

double label_log_prob(const float* z, int64_t C, int64_t y, double temperature) {
  return log_prob_row(z, C, y, temperature);
}
double label_log_prob(const double* z, int64_t C, int64_t y, double temperature) {
  return log_prob_row(z, C, y, temperature);
}

RmiaData load_rmia_data(const ExperimentFiles& files, const RmiaOptions& opt) {
  SP_CHECK(opt.temperature > 0 && std::isfinite(opt.temperature), "sp_lira: --rmia-temperature must be positive, got ",
           opt.temperature);
  SP_CHECK(!files.population_labels.empty(), "rmia needs population queries, but the experiment has no ",
           "population/labels.npy (trained before population queries existed, or with audit.population 0): run ",
           "sp_train on it again with a population to add them, or leave rmia out of --attacks");
  RmiaData d;
  d.S = int64_t(files.models.size());
  SP_CHECK(d.S >= 2, "rmia needs at least 2 models (1 target and its references), got ", d.S);

  npy::Reader lab(files.labels);
  std::vector<int64_t> labels = lab.read_labels();
  d.M = int64_t(labels.size());
  npy::Reader plab(files.population_labels);
  SP_CHECK(plab.shape().size() == 1, files.population_labels, ": labels must be 1-D [P], got shape ",
           npy::shape_str(plab.shape()));
  std::vector<int64_t> plabels = plab.read_labels();
  const int64_t available = int64_t(plabels.size());
  SP_CHECK(opt.population >= 0 && opt.population <= available, "sp_lira: --rmia-population ", opt.population, " but ",
           files.population_labels, " has ", available, " population samples");
  d.P = opt.population > 0 ? opt.population : available;
  plabels.resize(size_t(d.P));
  SP_CHECK(d.P >= opt.min_population, "rmia: ", d.P, " population samples (", files.population_labels,
           "), fewer than the minimum of ", opt.min_population, ": a score counts the z with LR(x, z) >= gamma, so ",
           "it moves in steps of 1/", d.P, " and cannot separate samples finely; query a larger population ",
           "(audit.population) or lower --rmia-min-population");

  // Headers first: a bad file fails before the heavy reads.
  std::vector<std::unique_ptr<npy::Reader>> audit, pop;
  int64_t A = 0, C = 0;
  for (int64_t s = 0; s < d.S; ++s) {
    const ModelFiles& mf = files.models[size_t(s)];
    SP_CHECK(!mf.population_logits.empty(), mf.dir, ": no population_logits.npy (the shadow was trained before ",
             "population queries existed: run sp_train on the directory again to add them)");
    if (s == 0) {
      npy::Reader first(mf.logits);
      SP_CHECK(first.shape().size() == 3, mf.logits, ": logits must have shape [M, A, C], got ",
               npy::shape_str(first.shape()));
      A = first.shape()[1];
      C = first.shape()[2];
    }
    audit.push_back(open_logits(mf.logits, d.M, "audit samples", A, C, files.models[0].logits));
    pop.push_back(open_logits(mf.population_logits, d.P, "population samples", A, C, files.models[0].logits));
  }
  const std::vector<int64_t> views = resolve_views(opt.views, A, files.models[0].logits);
  const int64_t AF = A;
  A = d.A = int64_t(views.size());
  for (int64_t j = 0; j < d.P; ++j)
    SP_CHECK(plabels[size_t(j)] >= 0 && plabels[size_t(j)] < C, files.population_labels, ": label ",
             plabels[size_t(j)], " at index ", j, " is outside [0, ", C, ")");

  d.member.assign(size_t(d.M * d.S), 0);
  for (int64_t s = 0; s < d.S; ++s) {
    std::vector<int64_t> k = npy::Reader(files.models[size_t(s)].keep).read_integers();
    SP_CHECK(int64_t(k.size()) == d.M, files.models[size_t(s)].keep, ": ", k.size(), " entries for ", d.M, " samples");
    for (int64_t i = 0; i < d.M; ++i) d.member[size_t(i * d.S + s)] = k[size_t(i)] != 0;
  }
  d.logp_x.assign(size_t(d.M * A * d.S), 0.0);
  d.logp_z.assign(size_t(d.P * A * d.S), 0.0);
  d.valid_x.assign(size_t(d.M * d.S), 1);
  d.valid_z.assign(size_t(d.P * d.S), 1);
  std::vector<std::string> bad(size_t(d.S));
  parallel_tasks(d.S, resolve_threads(opt.threads), [&](int64_t s, int) {
    std::vector<uint8_t> okx =
        read_log_probs(*audit[size_t(s)], d.M, AF, views, C, labels, opt.temperature, d.S, s, d.logp_x);
    std::vector<uint8_t> okz =
        read_log_probs(*pop[size_t(s)], d.P, AF, views, C, plabels, opt.temperature, d.S, s, d.logp_z);
    for (int64_t i = 0; i < d.M; ++i) d.valid_x[size_t(i * d.S + s)] = okx[size_t(i)];
    for (int64_t j = 0; j < d.P; ++j) d.valid_z[size_t(j * d.S + s)] = okz[size_t(j)];
    for (int64_t i = 0; i < d.M && bad[size_t(s)].empty(); ++i)
      if (!okx[size_t(i)]) bad[size_t(s)] = audit[size_t(s)]->path() + ": non-finite logit at sample " + std::to_string(i);
    for (int64_t j = 0; j < d.P && bad[size_t(s)].empty(); ++j)
      if (!okz[size_t(j)]) bad[size_t(s)] = pop[size_t(s)]->path() + ": non-finite logit at sample " + std::to_string(j);
  });
  for (int64_t s = 0; s < d.S; ++s)
    SP_CHECK(bad[size_t(s)].empty() || opt.nan_policy == NanPolicy::drop, bad[size_t(s)],
             " (use --nan-policy drop to exclude such pairs and count them)");
  for (uint8_t v : d.valid_z) d.dropped_population_pairs += v ? 0 : 1;
  return d;
}

RmiaData make_rmia_data(int64_t S, int64_t M, int64_t P, int64_t A, std::span<const double> logp_x_sma,
                        std::span<const double> logp_z_spa, std::span<const uint8_t> keep_sm) {
  SP_CHECK(S >= 2 && M >= 1 && P >= 1 && A >= 1, "make_rmia_data: need S >= 2 and positive M, P, A");
  SP_CHECK(int64_t(logp_x_sma.size()) == S * M * A && int64_t(logp_z_spa.size()) == S * P * A &&
               int64_t(keep_sm.size()) == S * M,
           "make_rmia_data: array sizes do not match S, M, P, A");
  RmiaData d;
  d.S = S;
  d.M = M;
  d.P = P;
  d.A = A;
  d.logp_x.resize(size_t(M * A * S));
  d.logp_z.resize(size_t(P * A * S));
  d.member.resize(size_t(M * S));
  d.valid_x.assign(size_t(M * S), 1);
  d.valid_z.assign(size_t(P * S), 1);
  for (int64_t s = 0; s < S; ++s) {
    for (int64_t i = 0; i < M; ++i) {
      d.member[size_t(i * S + s)] = keep_sm[size_t(s * M + i)] != 0;
      for (int64_t a = 0; a < A; ++a) {
        const double v = logp_x_sma[size_t((s * M + i) * A + a)];
        d.logp_x[size_t((i * A + a) * S + s)] = v;
        if (!std::isfinite(v)) d.valid_x[size_t(i * S + s)] = 0;
      }
    }
    for (int64_t j = 0; j < P; ++j)
      for (int64_t a = 0; a < A; ++a) {
        const double v = logp_z_spa[size_t((s * P + j) * A + a)];
        d.logp_z[size_t((j * A + a) * S + s)] = v;
        if (!std::isfinite(v)) d.valid_z[size_t(j * S + s)] = 0;
      }
  }
  return d;
}

RmiaScores run_rmia(const RmiaData& d, std::span<const Attack> attacks, const RmiaOptions& opt) {
  SP_CHECK(opt.gamma > 0 && std::isfinite(opt.gamma), "sp_lira: --rmia-gamma must be positive, got ", opt.gamma);
  SP_CHECK(opt.calibrate_a || (opt.a >= 0 && opt.a <= 1), "sp_lira: --rmia-a must be in [0, 1] (or calibrate), got ",
           opt.a);
  SP_CHECK(!opt.calibrate_a || d.S >= 3, "rmia: calibrating a needs at least 3 models (a target, a paired model and ",
           "a reference), got ", d.S);
  bool want[2] = {false, false};  // online, offline
  for (Attack a : attacks) {
    SP_CHECK(a == Attack::rmia_online || a == Attack::rmia_offline, "run_rmia: ", attack_name(a), " is not an RMIA attack");
    want[a == Attack::rmia_online ? 0 : 1] = true;
  }
  const int64_t S = d.S, M = d.M;
  RmiaScores out;
  out.a_used.assign(size_t(S), opt.a);
  std::vector<std::vector<double>> sc(2);
  for (int k = 0; k < 2; ++k)
    if (want[k]) sc[size_t(k)].assign(size_t(S * M), kNaN);
  std::vector<int64_t> unscored(size_t(S), 0);
  const Scorer scorer{d, std::log(opt.gamma), opt.equalize_folds};
  parallel_tasks(S, resolve_threads(opt.threads), [&](int64_t t, int) {
    std::vector<double> u, w;
    double a = opt.a;
    if (opt.calibrate_a) {
      const int64_t q = (t ^ 1) < S ? (t ^ 1) : (t + 1) % S;
      a = calibrate_a(scorer, t, q, opt.a, u, w);
    }
    out.a_used[size_t(t)] = a;
    for (int k = 0; k < 2; ++k)
      if (want[k]) unscored[size_t(t)] += scorer.score(t, -1, k == 0, a, u, w, &sc[size_t(k)][size_t(t * M)]);
  });
  for (int64_t n : unscored) out.unscored_pairs += n;
  for (Attack a : attacks) out.attacks.push_back({a, sc[a == Attack::rmia_online ? 0 : 1]});
  return out;
}

}  // namespace sp::lira
