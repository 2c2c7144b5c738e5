// Python bindings of the membership-inference code (attacks/): the LiRA statistic, the four LiRA attacks and
// RMIA with sp_lira's options on in-memory NumPy arrays, sp_lira's metrics phase (evaluate_attacks: the
// results.json entries), the ROC and its metrics, the epsilon lower bound, bootstrap intervals, the one-run audit,
// and sp_lira's whole pipeline on a directory. The arithmetic is the library's; this file only checks arguments,
// lays the arrays out as the library wants them and converts the results. Tested by python/tests/test_lira.py
// (the same numbers as the sp_lira CLI), test_metrics.py and test_errors.py.
#include <cmath>
#include <limits>
#include <sstream>

#include "attacks/lira_report.h"
#include "attacks/lira_run.h"
#include "attacks/parallel.h"
#include "python/src/bindings.h"
#include "python/src/py_util.h"

#include <pybind11/stl/filesystem.h>

namespace sp::py {
namespace {

using namespace sp::lira;

// ---- options ----------------------------------------------------------------------------------------------

// None, a name, a comma-separated string, or a sequence of names; "all" stands for the four LiRA attacks.
std::vector<Attack> parse_attacks(py::handle obj, const char* option, std::span<const Attack> fallback) {
  std::vector<std::string> names;
  if (obj.is_none()) {
    std::vector<Attack> v(fallback.begin(), fallback.end());
    return v;
  }
  if (py::isinstance<py::str>(obj)) {
    std::stringstream ss(obj.cast<std::string>());
    std::string item;
    while (std::getline(ss, item, ','))
      if (!item.empty()) names.push_back(item);
  } else {
    names = obj.cast<std::vector<std::string>>();
  }
  std::vector<Attack> v;
  for (const std::string& n : names) {
    if (n == "all") {
      for (Attack a : kAllAttacks)
        if (std::find(v.begin(), v.end(), a) == v.end()) v.push_back(a);
      continue;
    }
    const Attack a = attack_from_name(n);
    SP_CHECK(std::find(v.begin(), v.end(), a) == v.end(), option, ": '", n, "' listed twice");
    v.push_back(a);
  }
  SP_CHECK(!v.empty(), option, ": empty list");
  return v;
}

// None (all views), one index, or a sequence of indices.
std::vector<int64_t> parse_views(py::handle obj) {
  if (obj.is_none()) return {};
  if (py::isinstance<py::int_>(obj)) return {obj.cast<int64_t>()};
  return obj.cast<std::vector<int64_t>>();
}

// sp_lira's --preset, --fit, --std and --offline-score: explicit options win over the preset.
AttackOptions attack_options(py::handle fit, py::handle stdev, py::handle offline, py::handle preset,
                             bool equalize_folds, int threads) {
  std::string f = "mean", s = "sample", o = "cdf";
  if (!preset.is_none()) {
    const std::string p = preset.cast<std::string>();
    check_choice(p, "preset", {"carlini"});
    f = "median";
    s = "population";
    o = "pdf";
  }
  if (!fit.is_none()) f = fit.cast<std::string>();
  if (!stdev.is_none()) s = stdev.cast<std::string>();
  if (!offline.is_none()) o = offline.cast<std::string>();
  check_choice(s, "std", {"sample", "population"});
  AttackOptions ao;
  ao.fit = fit_from_name(f);
  ao.ddof = s == "sample" ? 1 : 0;
  ao.offline = offline_score_from_name(o);
  ao.equalize_folds = equalize_folds;
  ao.threads = resolve_threads(threads);
  return ao;
}

// ---- arrays -----------------------------------------------------------------------------------------------

// Shape of an [S, M, A, C] (or [M, A, C]) logit array; `lead` tells whether the model axis is present.
struct LogitShape {
  int64_t S = 1, M = 0, A = 0, C = 0;
  bool lead = true;
};

LogitShape logit_shape(const py::array& a, const char* name) {
  LogitShape s;
  s.lead = a.ndim() == 4;
  const int o = s.lead ? 1 : 0;
  if (s.lead) s.S = a.shape(0);
  s.M = a.shape(o);
  s.A = a.shape(o + 1);
  s.C = a.shape(o + 2);
  SP_CHECK(s.S >= 1 && s.M >= 1 && s.A >= 1, name, ": shape ", shape_str(a), " has no models, samples or queries");
  SP_CHECK(s.C >= 2, name, ": shape ", shape_str(a), " has ", s.C, " classes; the statistic needs C >= 2");
  return s;
}

// Labels [M], the first `used` (default all) each in [0, C): the message names the first one outside, as sp_lira's
// loader does.
carray<int64_t> checked_labels(py::handle obj, const char* name, int64_t M, int64_t C, const char* logits_name,
                               int64_t used = -1) {
  carray<int64_t> y = int_array(obj, name, {1});
  SP_CHECK(y.shape(0) == M, name, ": ", y.shape(0), " labels, but ", logits_name, " has ", M, " samples");
  for (int64_t i = 0; i < (used < 0 ? M : used); ++i)
    SP_CHECK(y.data()[i] >= 0 && y.data()[i] < C, name, ": label ", y.data()[i], " at index ", i, " is outside [0, ", C,
             ") (C from ", logits_name, ")");
  return y;
}

// keep [S, M] matching the attack data.
carray<uint8_t> checked_keep(py::handle obj, int64_t S, int64_t M, const char* source) {
  carray<uint8_t> k = mask_array(obj, "keep", {2});
  SP_CHECK(k.shape(0) == S && k.shape(1) == M, "keep: shape ", shape_str(k), " does not match ", source, " (", S,
           " models, ", M, " samples)");
  return k;
}

// Per-row values f(row, label) of the chosen views of logits [S, M, AF, C], as out[(s * M + i) * A + a];
// bad[s] receives the first row of model s with a NaN result ("" for none), bad_rows the count.
// M_all: the rows per model in the array, of which the first M are used.
template <class T, class F>
void rows_to_values(const T* z, const int64_t* y, int64_t S, int64_t M, int64_t M_all, int64_t AF, int64_t C,
                    const std::vector<int64_t>& views, int threads, const char* name, F f, std::vector<double>& out,
                    std::vector<std::string>& bad, int64_t& bad_rows) {
  const int64_t A = int64_t(views.size());
  out.assign(size_t(S * M * A), 0.0);
  bad.assign(size_t(S), "");
  std::vector<int64_t> count(size_t(S), 0);
  parallel_tasks(S, threads, [&](int64_t s, int) {
    for (int64_t i = 0; i < M; ++i)
      for (int64_t a = 0; a < A; ++a) {
        const T* row = z + ((s * M_all + i) * AF + views[size_t(a)]) * C;
        const double v = f(row, C, y[i]);
        out[size_t((s * M + i) * A + a)] = v;
        if (!std::isnan(v)) continue;
        ++count[size_t(s)];
        if (!bad[size_t(s)].empty()) continue;
        int64_t c = 0;
        while (c < C && std::isfinite(double(row[c]))) ++c;
        std::ostringstream os;
        os << name << ": non-finite logit " << (c < C ? double(row[c]) : NAN) << " at model " << s << ", sample " << i
           << ", query " << views[size_t(a)] << ", class " << c;
        bad[size_t(s)] = os.str();
      }
  });
  bad_rows = 0;
  for (int64_t c : count) bad_rows += c;
}

// The values of the first `rows` rows (samples) of every model of a float32 or float64 logit array (float32 is
// read as it is, other float types are converted to float64).
template <class F>
void logits_to_values(const py::array& logits, const int64_t* y, const LogitShape& sh, int64_t rows,
                      const std::vector<int64_t>& views, int threads, const char* name, F f, std::vector<double>& out,
                      std::vector<std::string>& bad, int64_t& bad_rows) {
  if (logits.dtype().is(py::dtype::of<float>())) {
    carray<float> z = carray<float>::ensure(logits);
    py::gil_scoped_release nogil;
    rows_to_values(z.data(), y, sh.S, rows, sh.M, sh.A, sh.C, views, threads, name, f, out, bad, bad_rows);
  } else {
    carray<double> z = float_array<double>(logits, name, {3, 4});
    py::gil_scoped_release nogil;
    rows_to_values(z.data(), y, sh.S, rows, sh.M, sh.A, sh.C, views, threads, name, f, out, bad, bad_rows);
  }
}

// sp_lira's NaN policy: "error" stops at the first non-finite logit, naming where it is.
void apply_nan_policy(NanPolicy p, const std::vector<std::string>& bad) {
  if (p == NanPolicy::drop) return;
  for (const std::string& b : bad)
    SP_CHECK(b.empty(), b, " (use nan_policy='drop' to exclude such (model, sample) pairs and count them)");
}

py::dict scores_dict(std::vector<AttackScores>& scores, int64_t S, int64_t M) {
  py::dict out;
  for (AttackScores& as : scores)
    out[py::str(std::string(attack_name(as.attack)))] = to_numpy(std::move(as.scores), {S, M});
  return out;
}

// ---- the LiRA statistic and attacks -----------------------------------------------------------------------

py::array lira_statistic_py(py::handle logits_obj, py::handle labels_obj, const std::string& statistic,
                            py::handle views_obj, int threads) {
  py::array logits = as_ndarray(logits_obj, "logits", {3, 4});
  SP_CHECK(logits.dtype().kind() == 'f', "logits: expected floating-point values, got dtype ",
           std::string(py::str(logits.dtype())));
  const LogitShape sh = logit_shape(logits, "logits");
  carray<int64_t> y = checked_labels(labels_obj, "labels", sh.M, sh.C, "logits");
  const Statistic st = statistic_from_name(statistic);
  const std::vector<int64_t> views = resolve_views(parse_views(views_obj), sh.A, "logits");
  std::vector<double> phi;
  std::vector<std::string> bad;
  int64_t bad_rows = 0;
  logits_to_values(
      logits, y.data(), sh, sh.M, views, resolve_threads(threads), "logits",
      [st](const auto* row, int64_t C, int64_t label) { return lira_statistic(row, C, label, st); }, phi, bad,
      bad_rows);
  std::vector<py::ssize_t> shape;
  if (sh.lead) shape.push_back(sh.S);
  shape.push_back(sh.M);
  shape.push_back(int64_t(views.size()));
  return to_numpy(std::move(phi), shape);
}

py::object lira_scores_py(py::handle keep_obj, py::handle logits_obj, py::handle labels_obj, py::handle phi_obj,
                          py::handle attacks_obj, py::handle views_obj, const std::string& statistic, py::handle fit,
                          py::handle stdev, py::handle offline, py::handle preset, bool equalize_folds,
                          const std::string& nan_policy, int threads, bool return_info) {
  SP_CHECK(logits_obj.is_none() != phi_obj.is_none(),
           "lira_scores: give either logits (with labels) or phi (the LiRA statistic), not both or neither");
  const std::vector<Attack> attacks = parse_attacks(attacks_obj, "attacks", kAllAttacks);
  for (Attack a : attacks)
    SP_CHECK(!is_rmia(a), "lira_scores: ", attack_name(a), " is an RMIA attack: use rmia_scores");
  const AttackOptions ao = attack_options(fit, stdev, offline, preset, equalize_folds, threads);
  const NanPolicy policy = nan_policy_from_name(nan_policy);
  const std::vector<int64_t> views_asked = parse_views(views_obj);

  int64_t S = 0, M = 0, A = 0, nonfinite_rows = 0;
  std::vector<double> phi_buf;  // the statistic of the chosen views, when it had to be computed or gathered
  carray<double> phi_in;        // phi given as a C-contiguous float64 array and used whole: read in place
  if (!logits_obj.is_none()) {
    SP_CHECK(!labels_obj.is_none(), "lira_scores: logits need labels (the training label of each sample)");
    py::array logits = as_ndarray(logits_obj, "logits", {4});
    SP_CHECK(logits.dtype().kind() == 'f', "logits: expected floating-point values, got dtype ",
             std::string(py::str(logits.dtype())));
    const LogitShape sh = logit_shape(logits, "logits");
    carray<int64_t> y = checked_labels(labels_obj, "labels", sh.M, sh.C, "logits");
    const std::vector<int64_t> views = resolve_views(views_asked, sh.A, "logits");
    const Statistic st = statistic_from_name(statistic);
    std::vector<std::string> bad;
    logits_to_values(
        logits, y.data(), sh, sh.M, views, ao.threads, "logits",
        [st](const auto* row, int64_t C, int64_t label) { return lira_statistic(row, C, label, st); }, phi_buf, bad,
        nonfinite_rows);
    apply_nan_policy(policy, bad);
    S = sh.S;
    M = sh.M;
    A = int64_t(views.size());
  } else {
    SP_CHECK(labels_obj.is_none(), "lira_scores: labels go with logits; phi already is the statistic");
    SP_CHECK(statistic == "logit", "lira_scores: statistic='", statistic,
             "' applies to logits; phi already is the statistic (compute it with lira_statistic)");
    phi_in = float_array<double>(phi_obj, "phi", {2, 3});
    S = phi_in.shape(0);
    M = phi_in.shape(1);
    const int64_t AF = phi_in.ndim() == 3 ? phi_in.shape(2) : 1;
    SP_CHECK(S >= 1 && M >= 1 && AF >= 1, "phi: shape ", shape_str(phi_in), " has no models, samples or queries");
    const std::vector<int64_t> views = resolve_views(views_asked, AF, "phi");
    A = int64_t(views.size());
    const double* p = phi_in.data();
    if (!views_asked.empty()) {
      phi_buf.resize(size_t(S * M * A));
      for (int64_t r = 0; r < S * M; ++r)
        for (int64_t a = 0; a < A; ++a) phi_buf[size_t(r * A + a)] = p[r * AF + views[size_t(a)]];
    }
    const double* q = views_asked.empty() ? p : phi_buf.data();
    for (int64_t k = 0; k < S * M * A; ++k) {
      if (std::isfinite(q[k])) continue;
      ++nonfinite_rows;
      SP_CHECK(policy == NanPolicy::drop, "phi: non-finite value ", q[k], " at model ", k / (M * A), ", sample ",
               (k / A) % M, ", query ", views[size_t(k % A)],
               " (use nan_policy='drop' to exclude such (model, sample) pairs and count them)");
    }
  }
  carray<uint8_t> keep = checked_keep(keep_obj, S, M, logits_obj.is_none() ? "phi" : "logits");
  std::vector<AttackScores> scores;
  int64_t unscored = 0, dropped = 0;
  {
    std::span<const double> phi = phi_buf.empty() ? std::span<const double>(phi_in.data(), size_t(S * M * A))
                                                   : std::span<const double>(phi_buf);
    std::span<const uint8_t> k(keep.data(), size_t(S * M));
    py::gil_scoped_release nogil;
    LiraData d = make_lira_data(S, M, A, phi, k);
    std::vector<double>().swap(phi_buf);
    dropped = d.dropped_pairs;
    scores = run_attacks(d, attacks, ao, &unscored);
  }
  py::dict out = scores_dict(scores, S, M);
  if (!return_info) return out;
  py::dict info;
  info["dropped_pairs"] = dropped;
  info["nonfinite_rows"] = nonfinite_rows;
  info["unscored_pairs"] = unscored;
  return py::make_tuple(out, info);
}

py::object rmia_scores_py(py::handle keep_obj, py::handle logits_obj, py::handle labels_obj, py::handle pop_obj,
                          py::handle pop_labels_obj, py::handle attacks_obj, double gamma, py::handle a_obj,
                          double temperature, int64_t population, int64_t min_population, py::handle views_obj,
                          bool equalize_folds, const std::string& nan_policy, int threads, bool return_info) {
  std::vector<Attack> attacks = parse_attacks(attacks_obj, "attacks", kRmiaAttacks);
  for (Attack a : attacks)
    SP_CHECK(is_rmia(a), "rmia_scores: ", attack_name(a), " is a LiRA attack: use lira_scores");
  RmiaOptions ro;
  ro.gamma = gamma;
  if (py::isinstance<py::str>(a_obj)) {
    const std::string a = a_obj.cast<std::string>();
    check_choice(a, "a", {"calibrate"});
    ro.calibrate_a = true;
  } else {
    ro.a = a_obj.cast<double>();
  }
  SP_CHECK(temperature > 0 && std::isfinite(temperature), "rmia_scores: temperature must be positive, got ",
           temperature);
  ro.temperature = temperature;
  ro.equalize_folds = equalize_folds;
  ro.nan_policy = nan_policy_from_name(nan_policy);
  ro.threads = resolve_threads(threads);

  py::array logits = as_ndarray(logits_obj, "logits", {4});
  py::array pop = as_ndarray(pop_obj, "population_logits", {4});
  for (const auto& [arr, name] : {std::pair{&logits, "logits"}, std::pair{&pop, "population_logits"}})
    SP_CHECK(arr->dtype().kind() == 'f', name, ": expected floating-point values, got dtype ",
             std::string(py::str(arr->dtype())));
  const LogitShape sx = logit_shape(logits, "logits");
  const LogitShape sz = logit_shape(pop, "population_logits");
  SP_CHECK(sz.S == sx.S && sz.A == sx.A && sz.C == sx.C, "population_logits: shape ", shape_str(pop),
           " does not match logits ", shape_str(logits), " (the same models, query views and classes)");
  SP_CHECK(population >= 0 && population <= sz.M, "population: ", population, " requested, but population_logits has ",
           sz.M, " samples");
  // The first P samples of each model (P < P_all only with `population`).
  const int64_t P = population > 0 ? population : sz.M;
  SP_CHECK(P >= min_population, "rmia_scores: ", P, " population samples, fewer than min_population = ",
           min_population, ": a score counts the z with LR(x, z) >= gamma, so it moves in steps of 1/", P,
           " and cannot separate samples finely");
  carray<int64_t> y = checked_labels(labels_obj, "labels", sx.M, sx.C, "logits");
  carray<int64_t> yz = checked_labels(pop_labels_obj, "population_labels", sz.M, sz.C, "population_logits", P);
  carray<uint8_t> keep = checked_keep(keep_obj, sx.S, sx.M, "logits");
  const std::vector<int64_t> views = resolve_views(parse_views(views_obj), sx.A, "logits");
  const int64_t A = int64_t(views.size());

  const double T = temperature;
  auto logp = [T](const auto* row, int64_t C, int64_t label) { return label_log_prob(row, C, label, T); };
  std::vector<double> lx, lz;
  std::vector<std::string> bad_x, bad_z;
  int64_t rows_x = 0, rows_z = 0;
  logits_to_values(logits, y.data(), sx, sx.M, views, ro.threads, "logits", logp, lx, bad_x, rows_x);
  logits_to_values(pop, yz.data(), sz, P, views, ro.threads, "population_logits", logp, lz, bad_z, rows_z);
  apply_nan_policy(ro.nan_policy, bad_x);
  apply_nan_policy(ro.nan_policy, bad_z);

  RmiaScores rs;
  int64_t dropped_population = 0;
  {
    py::gil_scoped_release nogil;
    RmiaData d = make_rmia_data(sx.S, sx.M, P, A, lx, lz, std::span<const uint8_t>(keep.data(), size_t(sx.S * sx.M)));
    std::vector<double>().swap(lx);
    std::vector<double>().swap(lz);
    for (uint8_t v : d.valid_z) dropped_population += v ? 0 : 1;
    rs = run_rmia(d, attacks, ro);
  }
  py::dict out = scores_dict(rs.attacks, sx.S, sx.M);
  if (!return_info) return out;
  py::dict info;
  info["a_per_model"] = to_numpy(std::move(rs.a_used), {sx.S});
  info["unscored_pairs"] = rs.unscored_pairs;
  info["dropped_population_pairs"] = dropped_population;
  info["population"] = P;
  return py::make_tuple(out, info);
}

// ---- metrics ----------------------------------------------------------------------------------------------

// Scores and membership of the same shape, any number of dimensions (pairs in C order).
struct Pairs {
  carray<double> scores;
  carray<uint8_t> member;
  std::span<const double> s() const { return {scores.data(), size_t(scores.size())}; }
  std::span<const uint8_t> m() const { return {member.data(), size_t(member.size())}; }
};

Pairs pairs(py::handle scores_obj, py::handle member_obj) {
  Pairs p{float_array<double>(scores_obj, "scores", {1, 2, 3}), mask_array(member_obj, "member", {1, 2, 3})};
  bool same = p.scores.ndim() == p.member.ndim();
  for (py::ssize_t d = 0; same && d < p.scores.ndim(); ++d) same = p.scores.shape(d) == p.member.shape(d);
  SP_CHECK(same, "member: shape ", shape_str(p.member), " does not match scores ", shape_str(p.scores));
  return p;
}

py::dict roc_arrays(const std::vector<RocPoint>& pts, int64_t P, int64_t N) {
  const size_t n = pts.size();
  std::vector<double> thr(n), fpr(n), tpr(n);
  std::vector<int64_t> fp(n), tp(n);
  for (size_t k = 0; k < n; ++k) {
    thr[k] = pts[k].threshold;
    fp[k] = pts[k].fp;
    tp[k] = pts[k].tp;
    fpr[k] = N ? double(pts[k].fp) / double(N) : 0.0;
    tpr[k] = P ? double(pts[k].tp) / double(P) : 0.0;
  }
  const py::ssize_t len = py::ssize_t(n);
  py::dict d;
  d["threshold"] = to_numpy(std::move(thr), {len});
  d["fpr"] = to_numpy(std::move(fpr), {len});
  d["tpr"] = to_numpy(std::move(tpr), {len});
  d["fp"] = to_numpy(std::move(fp), {len});
  d["tp"] = to_numpy(std::move(tp), {len});
  return d;
}

py::object evaluate_py(py::handle scores_obj, py::handle keep_obj, double delta, int bootstrap, uint64_t seed,
                       double one_run_confidence, bool equalize_folds, py::handle groups_obj, int threads) {
  LiraConfig cfg;
  cfg.delta = delta;
  cfg.bootstrap = bootstrap;
  cfg.seed = seed;
  cfg.one_run_confidence = one_run_confidence;
  cfg.attack.equalize_folds = equalize_folds;
  cfg.groups = "groups";
  SP_CHECK(delta >= 0 && delta < 1, "evaluate: delta must be in [0, 1), got ", delta);
  SP_CHECK(one_run_confidence > 0 && one_run_confidence < 1, "evaluate: one_run_confidence must be in (0, 1), got ",
           one_run_confidence);
  SP_CHECK(bootstrap >= 0, "evaluate: bootstrap must be >= 0, got ", bootstrap);
  const bool single = !py::isinstance<py::dict>(scores_obj);
  std::vector<std::pair<std::string, py::handle>> items;
  py::dict in;
  if (single) {
    items.push_back({"scores", scores_obj});
  } else {
    in = py::reinterpret_borrow<py::dict>(scores_obj);
    SP_CHECK(!in.empty(), "evaluate: no scores (empty dict)");
    for (auto kv : in) items.push_back({kv.first.cast<std::string>(), kv.second});
  }
  carray<uint8_t> keep = mask_array(keep_obj, "keep", {2});
  const int64_t S = keep.shape(0), M = keep.shape(1);
  std::vector<AttackScores> scores;
  for (const auto& [name, obj] : items) {
    const std::string what = single ? "scores" : "scores['" + name + "']";
    carray<double> a = float_array<double>(obj, what.c_str(), {2});
    SP_CHECK(a.shape(0) == S && a.shape(1) == M, what, ": shape ", shape_str(a), " does not match keep ",
             shape_str(keep));
    // Names that are not sp_lira attacks (the caller's own scores) count as reference-based for the one-run
    // bound's validity: valid only with equalize_folds.
    Attack id = Attack::online;
    for (Attack x : {Attack::online, Attack::online_global_variance, Attack::offline, Attack::global_threshold,
                     Attack::rmia_online, Attack::rmia_offline})
      if (attack_name(x) == name) id = x;
    scores.push_back({id, std::vector<double>(a.data(), a.data() + S * M)});
  }
  std::vector<int64_t> groups;
  if (!groups_obj.is_none()) {
    carray<int64_t> g = int_array(groups_obj, "groups", {1, 2});
    SP_CHECK((g.ndim() == 1 && g.shape(0) == M) || (g.ndim() == 2 && g.shape(0) == S && g.shape(1) == M),
             "groups: shape ", shape_str(g), " must be (", M, ",) or (", S, ", ", M, ") for keep ", shape_str(keep));
    groups.resize(size_t(S * M));
    for (int64_t p = 0; p < S * M; ++p) groups[size_t(p)] = g.data()[g.ndim() == 1 ? p % M : p];
  }
  std::vector<AttackResult> res;
  {
    py::gil_scoped_release nogil;
    res = evaluate_attacks(scores, std::span<const uint8_t>(keep.data(), size_t(S * M)), S, M, cfg,
                           resolve_threads(threads), groups);
  }
  py::dict out;
  for (size_t k = 0; k < res.size(); ++k) {
    const AttackResult& ar = res[k];
    py::dict m = json_to_py(metrics_json(ar.overall));
    m["one_run"] = json_to_py(one_run_json(ar.one_run, ar.one_run_valid));
    m["roc"] = roc_arrays(ar.overall.curve, ar.overall.P, ar.overall.N);
    if (!groups.empty()) {
      py::dict g;
      for (const auto& [v, gm] : ar.groups) g[py::int_(v)] = json_to_py(metrics_json(gm));
      m["groups"] = g;
    }
    out[py::str(items[k].first)] = m;
  }
  if (single) return out["scores"];
  return out;
}

py::tuple roc_curve_py(py::handle scores_obj, py::handle member_obj, bool thin) {
  Pairs p = pairs(scores_obj, member_obj);
  Roc r = roc_curve(p.s(), p.m());
  py::dict d = roc_arrays(thin ? thin_roc(r) : r.points, r.P, r.N);
  return py::make_tuple(d["fpr"], d["tpr"], d["threshold"]);
}

py::object tpr_at_fpr_py(py::handle scores_obj, py::handle member_obj, py::handle fpr_obj) {
  Pairs p = pairs(scores_obj, member_obj);
  Roc r = roc_curve(p.s(), p.m());
  if (py::isinstance<py::float_>(fpr_obj) || py::isinstance<py::int_>(fpr_obj))
    return py::float_(tpr_at_fpr(r, fpr_obj.cast<double>()));
  carray<double> f = float_array<double>(fpr_obj, "fpr", {1});
  std::vector<double> v(size_t(f.size()));
  for (size_t k = 0; k < v.size(); ++k) v[k] = tpr_at_fpr(r, f.data()[k]);
  return to_numpy(std::move(v), {f.size()});
}

py::dict epsilon_bound_py(py::handle scores_obj, py::handle member_obj, double delta, double alpha) {
  SP_CHECK(delta >= 0 && delta < 1, "epsilon_lower_bound: delta must be in [0, 1), got ", delta);
  SP_CHECK(alpha > 0 && alpha < 1, "epsilon_lower_bound: alpha must be in (0, 1), got ", alpha);
  Pairs p = pairs(scores_obj, member_obj);
  const EpsilonBound e = epsilon_lower_bound(roc_curve(p.s(), p.m()), delta, alpha);
  py::dict d;
  d["epsilon"] = e.epsilon;
  d["threshold"] = e.threshold;
  d["tp"] = e.tp;
  d["fp"] = e.fp;
  d["complement"] = e.complement;
  return d;
}

py::object bootstrap_py(py::handle scores_obj, py::handle keep_obj, double fpr, int replicates, uint64_t seed,
                        double level, int threads) {
  SP_CHECK(replicates >= 1, "bootstrap_tpr_at_fpr: replicates must be >= 1, got ", replicates);
  SP_CHECK(level > 0 && level < 1, "bootstrap_tpr_at_fpr: level must be in (0, 1), got ", level);
  const bool single = !py::isinstance<py::dict>(scores_obj);
  carray<uint8_t> keep = mask_array(keep_obj, "keep", {2});
  const int64_t S = keep.shape(0), M = keep.shape(1);
  std::vector<std::pair<std::string, carray<double>>> items;
  auto add = [&](const std::string& name, py::handle obj) {
    const std::string what = single ? "scores" : "scores['" + name + "']";
    carray<double> a = float_array<double>(obj, what.c_str(), {2});
    SP_CHECK(a.shape(0) == S && a.shape(1) == M, what, ": shape ", shape_str(a), " does not match keep ",
             shape_str(keep));
    items.push_back({name, a});
  };
  if (single) {
    add("scores", scores_obj);
  } else {
    for (auto kv : py::reinterpret_borrow<py::dict>(scores_obj)) add(kv.first.cast<std::string>(), kv.second);
    SP_CHECK(!items.empty(), "bootstrap_tpr_at_fpr: no scores (empty dict)");
  }
  std::vector<BootstrapInterval> b;
  {
    py::gil_scoped_release nogil;
    std::vector<std::vector<int64_t>> orders;
    std::vector<BootstrapTarget> targets;
    for (const auto& [name, a] : items) orders.push_back(order_desc(std::span<const double>(a.data(), size_t(S * M))));
    for (size_t k = 0; k < items.size(); ++k)
      targets.push_back({std::span<const double>(items[k].second.data(), size_t(S * M)), orders[k]});
    b = bootstrap_tpr_at_fpr(targets, std::span<const uint8_t>(keep.data(), size_t(S * M)), M, fpr, replicates, seed,
                             resolve_threads(threads), level);
  }
  py::dict out;
  for (size_t k = 0; k < items.size(); ++k) {
    py::dict d;
    d["lo"] = b[k].lo;
    d["hi"] = b[k].hi;
    d["replicates"] = b[k].replicates;
    out[py::str(items[k].first)] = d;
  }
  if (single) return out["scores"];
  return out;
}

py::dict one_run_dict(const OneRunResult& r) {
  py::dict d;
  d["epsilon"] = r.epsilon;
  d["m"] = r.m;
  d["k_pos"] = r.best.k_pos;
  d["k_neg"] = r.best.k_neg;
  d["guesses"] = r.best.r;
  d["correct"] = r.best.v;
  d["candidates"] = r.candidates;
  d["confidence"] = 1 - r.p_level;
  d["delta"] = r.delta;
  return d;
}

py::object one_run_audit_py(py::handle scores_obj, py::handle member_obj, double delta, double confidence,
                            py::handle k_pos, py::handle k_neg) {
  SP_CHECK(k_pos.is_none() == k_neg.is_none(), "one_run_audit: give both k_pos and k_neg (a fixed guess) or neither");
  Pairs p = pairs(scores_obj, member_obj);
  SP_CHECK(p.scores.ndim() <= 2, "scores: expected 1 or 2 dimensions ([M] or [S, M]), got shape ",
           shape_str(p.scores));
  OneRunOptions o;
  o.delta = delta;
  o.confidence = confidence;
  if (!k_pos.is_none()) {
    o.fixed_guess = true;
    o.k_pos = k_pos.cast<int64_t>();
    o.k_neg = k_neg.cast<int64_t>();
  }
  const int64_t rows = p.scores.ndim() == 2 ? p.scores.shape(0) : 1;
  const int64_t M = p.scores.ndim() == 2 ? p.scores.shape(1) : p.scores.shape(0);
  py::list out;
  for (int64_t t = 0; t < rows; ++t) {
    OneRunResult r = one_run_audit(std::span<const double>(p.scores.data() + t * M, size_t(M)),
                                   std::span<const uint8_t>(p.member.data() + t * M, size_t(M)), o);
    out.append(one_run_dict(r));
  }
  if (p.scores.ndim() == 1) return out[0];
  return out;
}

// ---- sp_lira's pipeline -----------------------------------------------------------------------------------

py::object run_lira_py(const std::filesystem::path& dir, py::handle out, const std::string& layout, py::handle attacks_obj,
                       py::handle views, py::handle models, const std::string& statistic, py::handle fit,
                       py::handle stdev, py::handle offline, py::handle preset, bool equalize_folds,
                       const std::string& nan_policy, py::handle groups, double delta, double one_run_confidence,
                       int bootstrap, uint64_t seed, int threads, bool plot, double rmia_gamma, py::handle rmia_a,
                       double rmia_temperature, int64_t rmia_population, int64_t rmia_min_population) {
  LiraConfig cfg;
  cfg.dir = dir.string();
  if (!out.is_none()) cfg.out_dir = py::str(out);
  cfg.layout = layout_from_name(layout);
  cfg.rmia_when_available = py::isinstance<py::str>(attacks_obj) && attacks_obj.cast<std::string>() == "all";
  cfg.attacks = parse_attacks(attacks_obj, "attacks", kAllAttacks);
  cfg.views = parse_views(views);
  if (!models.is_none()) cfg.models = models.cast<std::vector<int64_t>>();
  cfg.statistic = statistic_from_name(statistic);
  cfg.attack = attack_options(fit, stdev, offline, preset, equalize_folds, threads);
  cfg.attack.threads = 0;
  cfg.nan_policy = nan_policy_from_name(nan_policy);
  if (!groups.is_none()) cfg.groups = py::str(groups);
  cfg.delta = delta;
  cfg.one_run_confidence = one_run_confidence;
  cfg.bootstrap = bootstrap;
  cfg.seed = seed;
  cfg.threads = threads;
  cfg.plot = plot;
  cfg.rmia.gamma = rmia_gamma;
  if (py::isinstance<py::str>(rmia_a)) {
    check_choice(rmia_a.cast<std::string>(), "rmia_a", {"calibrate"});
    cfg.rmia.calibrate_a = true;
  } else {
    cfg.rmia.a = rmia_a.cast<double>();
    SP_CHECK(cfg.rmia.a >= 0 && cfg.rmia.a <= 1, "rmia_a: ", cfg.rmia.a, " is neither a number in [0, 1] nor 'calibrate'");
  }
  cfg.rmia.temperature = rmia_temperature;
  cfg.rmia.population = rmia_population;
  cfg.rmia.min_population = rmia_min_population;
  LiraResult r;
  {
    py::gil_scoped_release nogil;
    r = run_lira(cfg);
  }
  return json_to_py(results_json(r, cfg));
}

}  // namespace

void bind_attacks(py::module_& m) {
  m.def("lira_statistic", &lira_statistic_py, py::arg("logits"), py::arg("labels"), py::kw_only(),
        py::arg("statistic") = "logit", py::arg("views") = py::none(), py::arg("threads") = 0,
        R"doc(The LiRA statistic phi of every query row, in float64.

logits: float32/float64 [S, M, A, C] (or [M, A, C]); labels: int [M] (the training labels).
statistic: "logit" (z_y - logsumexp_{j != y} z_j) or "hinge" (z_y - max_{j != y} z_j).
views: query views to keep (indices into A; default all). Returns [S, M, A'] (or [M, A']), NaN for a row
with a non-finite logit.)doc");

  m.def("lira_scores", &lira_scores_py, py::arg("keep"), py::kw_only(), py::arg("logits") = py::none(),
        py::arg("labels") = py::none(), py::arg("phi") = py::none(), py::arg("attacks") = py::none(),
        py::arg("views") = py::none(), py::arg("statistic") = "logit", py::arg("fit") = py::none(),
        py::arg("std") = py::none(), py::arg("offline_score") = py::none(), py::arg("preset") = py::none(),
        py::arg("equalize_folds") = false, py::arg("nan_policy") = "error", py::arg("threads") = 0,
        py::arg("return_info") = false,
        R"doc(Scores of the LiRA attacks with leave-one-model-out fits, as sp_lira computes them.

keep: bool [S, M], keep[s, i] = model s trained on sample i.
Either logits (float [S, M, A, C]) with labels (int [M]), or phi (float64 [S, M, A] or [S, M], the statistic).
attacks: names or "all" (default: online, online_global_variance, offline, global_threshold).
views, statistic ("logit"/"hinge"), fit ("mean"/"median"), std ("sample"/"population"), offline_score
("cdf"/"pdf"), preset ("carlini"; explicit options win), equalize_folds, nan_policy ("error"/"drop") and threads
(0: all cores) are sp_lira's options of the same names.
Returns {attack: float64 [S, M]} (row = target model; larger = member; NaN = not scored), and with
return_info=True also {dropped_pairs, nonfinite_rows, unscored_pairs}.)doc");

  m.def("rmia_scores", &rmia_scores_py, py::arg("keep"), py::kw_only(), py::arg("logits"), py::arg("labels"),
        py::arg("population_logits"), py::arg("population_labels"), py::arg("attacks") = py::none(),
        py::arg("gamma") = 2.0, py::arg("a") = py::float_(0.33), py::arg("temperature") = 1.0,
        py::arg("population") = 0, py::arg("min_population") = 100, py::arg("views") = py::none(),
        py::arg("equalize_folds") = false, py::arg("nan_policy") = "error", py::arg("threads") = 0,
        py::arg("return_info") = false,
        R"doc(Scores of RMIA (rmia_online, rmia_offline) with leave-one-model-out references, as sp_lira computes them.

keep: bool [S, M]; logits: float [S, M, A, C]; labels: int [M]; population_logits: float [S, P, A, C] (samples no
model trained on); population_labels: int [P]. gamma, a (a number in [0, 1] or "calibrate"), temperature,
population (use the first N population samples; 0: all), min_population, views, equalize_folds, nan_policy and
threads are sp_lira's --rmia-* options and their namesakes.
Returns {attack: float64 [S, M]}, and with return_info=True also {a_per_model, unscored_pairs,
dropped_population_pairs, population}.)doc");

  m.def("evaluate", &evaluate_py, py::arg("scores"), py::arg("keep"), py::kw_only(), py::arg("delta") = 1e-5,
        py::arg("bootstrap") = 1000, py::arg("seed") = 0, py::arg("one_run_confidence") = 0.95,
        py::arg("equalize_folds") = false, py::arg("groups") = py::none(), py::arg("threads") = 0,
        R"doc(sp_lira's metrics of attack scores: the entries of results.json's "attacks".

scores: float64 [S, M] or a dict {attack: [S, M]} (paired bootstrap replicates, as sp_lira); keep: bool [S, M].
For each attack: auc, balanced_accuracy, tpr_at_fpr (FPR 1e-5 .. 1e-1), epsilon_lower_bound, n_members,
n_nonmembers, bootstrap (95% interval of TPR at 0.1% FPR from `bootstrap` replicates; 0: none), one_run (each
model's one-run epsilon; valid for global_threshold, and for the others with equalize_folds=True, which must
match how the scores were computed), roc (the thinned curve of roc_<attack>.csv: threshold, fpr, tpr, fp, tp)
and, with groups (int [M] or [S, M]), the metrics per group value. A single array gives one such dict.)doc");

  m.def("roc_curve", &roc_curve_py, py::arg("scores"), py::arg("member"), py::kw_only(), py::arg("thin") = false,
        R"doc(The pooled ROC: (fpr, tpr, thresholds), one point per distinct score from +inf down (ties move
together; NaN scores are left out). thin=True keeps the points sp_lira writes to roc_<attack>.csv.)doc");
  m.def(
      "roc_auc",
      [](py::handle s, py::handle mem) {
        Pairs p = pairs(s, mem);
        return roc_auc(roc_curve(p.s(), p.m()));
      },
      py::arg("scores"), py::arg("member"), "AUC (Mann-Whitney, ties count one half); NaN without both classes.");
  m.def(
      "balanced_accuracy",
      [](py::handle s, py::handle mem) {
        Pairs p = pairs(s, mem);
        return balanced_accuracy(roc_curve(p.s(), p.m()));
      },
      py::arg("scores"), py::arg("member"), "The best balanced accuracy over thresholds, max (1 + TPR - FPR) / 2.");
  m.def("tpr_at_fpr", &tpr_at_fpr_py, py::arg("scores"), py::arg("member"), py::arg("fpr") = 1e-3,
        "TPR at FPR <= fpr (the largest over thresholds, no interpolation); fpr may be a number or an array.");
  m.def("epsilon_lower_bound", &epsilon_bound_py, py::arg("scores"), py::arg("member"), py::kw_only(),
        py::arg("delta") = 1e-5, py::arg("alpha") = 0.05,
        R"doc(The empirical epsilon lower bound of the ROC with two-sided (1 - alpha) Clopper-Pearson intervals:
{epsilon, threshold, tp, fp, complement}.)doc");
  m.def("bootstrap_tpr_at_fpr", &bootstrap_py, py::arg("scores"), py::arg("keep"), py::kw_only(),
        py::arg("fpr") = 1e-3, py::arg("replicates") = 1000, py::arg("seed") = 0, py::arg("level") = 0.95,
        py::arg("threads") = 0,
        R"doc(Percentile bootstrap interval of TPR at FPR <= fpr, resampling samples (columns of [S, M]) with all
their pairs: {lo, hi, replicates}; a dict of score arrays shares the replicates (paired intervals).)doc");
  m.def("one_run_audit", &one_run_audit_py, py::arg("scores"), py::arg("member"), py::kw_only(),
        py::arg("delta") = 1e-5, py::arg("confidence") = 0.95, py::arg("k_pos") = py::none(),
        py::arg("k_neg") = py::none(),
        R"doc(The one-run epsilon lower bound (Steinke, Nasr, Jagielski 2023) of one model from its scores [M]
(a list for [S, M], one per row): {epsilon, m, k_pos, k_neg, guesses, correct, candidates, confidence, delta}.
k_pos and k_neg fix the guess (no Bonferroni correction); otherwise the best of sp_lira's grid.)doc");
  m.def(
      "one_run_epsilon",
      [](int64_t m, int64_t r, int64_t v, double delta, double confidence) {
        return one_run_epsilon(m, r, v, delta, 1 - confidence);
      },
      py::arg("m"), py::arg("r"), py::arg("v"), py::kw_only(), py::arg("delta") = 1e-5, py::arg("confidence") = 0.95,
      "The largest epsilon rejected by v correct guesses out of r on m canaries, at the given confidence.");
  m.def("one_run_p_value", &one_run_p_value, py::arg("m"), py::arg("r"), py::arg("v"), py::arg("epsilon"),
        py::arg("delta"), "The one-run audit's p-value of v correct guesses out of r on m canaries under (eps, delta)-DP.");

  m.def("run_lira", &run_lira_py, py::arg("dir"), py::kw_only(), py::arg("out") = py::none(),
        py::arg("layout") = "synpriv", py::arg("attacks") = "all", py::arg("views") = py::none(),
        py::arg("models") = py::none(), py::arg("statistic") = "logit", py::arg("fit") = py::none(),
        py::arg("std") = py::none(), py::arg("offline_score") = py::none(), py::arg("preset") = py::none(),
        py::arg("equalize_folds") = false, py::arg("nan_policy") = "error", py::arg("groups") = py::none(),
        py::arg("delta") = 1e-5, py::arg("one_run_confidence") = 0.95, py::arg("bootstrap") = 1000,
        py::arg("seed") = 0, py::arg("threads") = 0, py::arg("plot") = true, py::arg("rmia_gamma") = 2.0,
        py::arg("rmia_a") = py::float_(0.33), py::arg("rmia_temperature") = 1.0, py::arg("rmia_population") = 0,
        py::arg("rmia_min_population") = 100,
        R"doc(sp_lira on an experiment directory: writes results.json, scores_<attack>.npy, roc_<attack>.csv and
roc.png to out (default DIR/lira) and returns results.json as a dict. The options are sp_lira's.)doc");
}

}  // namespace sp::py
