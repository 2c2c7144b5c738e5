// Experiment discovery, validation and streamed phi computation (see lira_data.h).
#include "attacks/lira_data.h"

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <memory>
#include <thread>

#include "attacks/parallel.h"
#include "data/json_read.h"
#include "data/npy.h"
#include "data/query_views.h"

namespace sp::lira {
namespace fs = std::filesystem;

std::string_view layout_name(Layout l) { return l == Layout::synpriv ? "synpriv" : "tf-privacy"; }
Layout layout_from_name(std::string_view n) {
  if (n == "synpriv") return Layout::synpriv;
  if (n == "tf-privacy") return Layout::tf_privacy;
  SP_FAIL("unknown layout '", n, "' (expected synpriv or tf-privacy)");
}
std::string_view nan_policy_name(NanPolicy p) { return p == NanPolicy::error ? "error" : "drop"; }
NanPolicy nan_policy_from_name(std::string_view n) {
  if (n == "error") return NanPolicy::error;
  if (n == "drop") return NanPolicy::drop;
  SP_FAIL("unknown NaN policy '", n, "' (expected error or drop)");
}

std::vector<int64_t> resolve_views(const std::vector<int64_t>& views, int64_t A, const std::string& source) {
  if (views.empty()) {
    std::vector<int64_t> all(static_cast<size_t>(A));
    for (int64_t a = 0; a < A; ++a) all[size_t(a)] = a;
    return all;
  }
  for (size_t k = 0; k < views.size(); ++k) {
    SP_CHECK(views[k] >= 0 && views[k] < A, "--views: view ", views[k], " does not exist: ", source, " has ", A,
             " query views (0..", A - 1, ")");
    for (size_t j = 0; j < k; ++j) SP_CHECK(views[j] != views[k], "--views: view ", views[k], " listed twice");
  }
  return views;
}

int resolve_threads(int requested) {
  if (requested > 0) return requested;
  return int(std::max(1u, std::thread::hardware_concurrency()));
}

namespace {

void require_file(const fs::path& p) {
  std::error_code ec;
  SP_CHECK(fs::is_regular_file(p, ec), p.string(), ": missing file");
}

void require_dir(const fs::path& p) {
  std::error_code ec;
  SP_CHECK(fs::is_directory(p, ec), p.string(), ": missing directory");
}

// "0", "17": canonical decimal (no sign, no leading zeros) so "1" and "01" cannot both name model 1.
bool parse_index(const std::string& s, int64_t& v) {
  if (s.empty() || s.size() > 12 || (s.size() > 1 && s[0] == '0')) return false;
  v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  return true;
}

std::vector<fs::directory_entry> list_dir(const fs::path& p) {
  std::vector<fs::directory_entry> v;
  std::error_code ec;
  fs::directory_iterator it(p, ec);
  SP_CHECK(!ec, p.string(), ": cannot list directory: ", ec.message());
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    SP_CHECK(!ec, p.string(), ": cannot list directory: ", ec.message());
    v.push_back(*it);
  }
  return v;
}

// DIR/config.json's audit.query_views; a configuration written before the key existed was queried on all
// 18 views (paradigms/engine/experiment_run.h).
std::string stored_query_views(const std::string& path) {
  const nlohmann::json j = data::read_json_file(path);
  SP_CHECK(j.is_object(), path, ": not a JSON object");
  if (!j.contains("audit") || !j["audit"].is_object() || !j["audit"].contains("query_views"))
    return data::query_views_name(data::QueryViews::all);
  const nlohmann::json& v = j["audit"]["query_views"];
  SP_CHECK(v.is_string() && data::query_views_from_name(v.get<std::string>()), path, ": audit.query_views is ",
           v.dump(), ", not one of all, flips, clean");
  return v.get<std::string>();
}

ExperimentFiles find_synpriv(const fs::path& dir, const std::vector<int64_t>& only) {
  ExperimentFiles f;
  f.layout = Layout::synpriv;
  f.labels = (dir / "audit" / "labels.npy").string();
  require_file(f.labels);
  std::error_code cec;
  if (fs::is_regular_file(dir / "config.json", cec)) {
    f.config = (dir / "config.json").string();
    f.query_views = stored_query_views(f.config);
  }
  std::error_code pec;
  if (fs::is_regular_file(dir / "population" / "labels.npy", pec))
    f.population_labels = (dir / "population" / "labels.npy").string();
  fs::path shadow = dir / "shadow";
  require_dir(shadow);
  std::vector<int64_t> ids;
  for (const auto& e : list_dir(shadow)) {
    std::string name = e.path().filename().string();
    if (name[0] == '.') continue;
    int64_t k;
    std::error_code ec;
    SP_CHECK(parse_index(name, k) && e.is_directory(ec), e.path().string(),
             ": unexpected entry (expected only model directories named 0, 1, ..., S-1)");
    ids.push_back(k);
  }
  SP_CHECK(!ids.empty(), shadow.string(), ": no model directories (expected 0, 1, ..., S-1)");
  std::sort(ids.begin(), ids.end());
  for (size_t k = 0; k < ids.size(); ++k)
    SP_CHECK(ids[k] == int64_t(k), (shadow / std::to_string(k)).string(), ": missing model directory (found ",
             ids.size(), " model directories numbered up to ", ids.back(), "; they must be 0..S-1 without gaps)");
  std::vector<int64_t> use = only;
  if (use.empty())
    for (size_t k = 0; k < ids.size(); ++k) use.push_back(int64_t(k));
  for (size_t j = 0; j < use.size(); ++j) {
    const int64_t k = use[j];
    SP_CHECK(k >= 0 && k < int64_t(ids.size()), dir.string(), ": model ", k, " requested, but there are only ",
             ids.size(), " model directories");
    SP_CHECK(j == 0 || k > use[j - 1], "sp_lira: model indices must be ascending and unique");
    fs::path m = shadow / std::to_string(k);
    ModelFiles mf{m.string(), (m / "keep.npy").string(), (m / "logits.npy").string(), ""};
    require_file(mf.keep);
    require_file(mf.logits);
    std::error_code ec;
    if (fs::is_regular_file(m / "population_logits.npy", ec)) mf.population_logits = (m / "population_logits.npy").string();
    f.models.push_back(mf);
  }
  return f;
}

ExperimentFiles find_tf_privacy(const fs::path& dir) {
  ExperimentFiles f;
  f.layout = Layout::tf_privacy;
  f.labels = (dir / "y_train.npy").string();
  require_file(f.labels);
  struct Exp {
    int64_t id;
    std::string name;
  };
  std::vector<Exp> exps;
  for (const auto& e : list_dir(dir)) {
    std::string name = e.path().filename().string();
    std::error_code ec;
    if (name.rfind("experiment-", 0) != 0 || !e.is_directory(ec)) continue;
    std::string rest = name.substr(11);
    size_t digits = 0;
    while (digits < rest.size() && digits < 12 && rest[digits] >= '0' && rest[digits] <= '9') ++digits;
    int64_t id = digits ? std::stoll(rest.substr(0, digits)) : -1;
    exps.push_back({id, name});
  }
  SP_CHECK(!exps.empty(), dir.string(), ": no experiment-* directories (tf-privacy mi_lira_2021 layout)");
  std::sort(exps.begin(), exps.end(), [](const Exp& a, const Exp& b) { return a.id != b.id ? a.id < b.id : a.name < b.name; });
  for (const Exp& x : exps) {
    fs::path m = dir / x.name;
    fs::path ldir = m / "logits";
    require_dir(ldir);
    std::string newest;
    for (const auto& e : list_dir(ldir)) {
      std::string n = e.path().filename().string();
      std::error_code ec;
      if (n.size() > 4 && n.compare(n.size() - 4, 4, ".npy") == 0 && e.is_regular_file(ec) && n > newest) newest = n;
    }
    SP_CHECK(!newest.empty(), ldir.string(), ": no .npy logits file");
    ModelFiles mf{m.string(), (m / "keep.npy").string(), (ldir / newest).string(), ""};
    require_file(mf.keep);
    f.models.push_back(mf);
  }
  return f;
}

std::string shape_of(const npy::Reader& r) { return npy::shape_str(r.shape()); }

}  // namespace

ExperimentFiles find_experiment(const std::string& dir, Layout layout, const std::vector<int64_t>& models) {
  require_dir(dir);
  if (layout == Layout::synpriv) return find_synpriv(dir, models);
  ExperimentFiles f = find_tf_privacy(dir);
  if (models.empty()) return f;
  std::vector<ModelFiles> v;
  for (size_t j = 0; j < models.size(); ++j) {
    SP_CHECK(models[j] >= 0 && models[j] < int64_t(f.models.size()), dir, ": model ", models[j],
             " requested, but there are only ", f.models.size(), " experiments");
    SP_CHECK(j == 0 || models[j] > models[j - 1], "sp_lira: model indices must be ascending and unique");
    v.push_back(f.models[size_t(models[j])]);
  }
  f.models = v;
  return f;
}

LiraData load_experiment(const ExperimentFiles& files, const LoadOptions& opt) {
  LiraData d;
  const int64_t S = int64_t(files.models.size());
  SP_CHECK(S >= 1, "load_experiment: no models");
  d.S = S;

  npy::Reader lab(files.labels);
  SP_CHECK(lab.shape().size() == 1, files.labels, ": labels must be 1-D [M], got shape ", shape_of(lab));
  std::vector<int64_t> labels = lab.read_labels();
  const int64_t M = lab.numel();
  SP_CHECK(M >= 1, files.labels, ": no audit samples");
  d.M = M;

  // Every header first, so a bad file fails in milliseconds rather than after the heavy read.
  std::vector<std::unique_ptr<npy::Reader>> logits;
  const bool tf = files.layout == Layout::tf_privacy;
  for (int64_t s = 0; s < S; ++s) {
    const ModelFiles& mf = files.models[size_t(s)];
    auto r = std::make_unique<npy::Reader>(mf.logits);
    const auto& sh = r->shape();
    SP_CHECK(r->dtype() == DType::f32 || r->dtype() == DType::f64, mf.logits, ": logits must be float32 (or float64), got ",
             npy::descr_of(r->dtype()));
    if (tf) {
      SP_CHECK(sh.size() == 4 && sh[1] == 1, mf.logits, ": tf-privacy logits must have shape [N, 1, A, C], got ", shape_of(*r));
    } else {
      SP_CHECK(sh.size() == 3, mf.logits, ": logits must have shape [M, A, C], got ", shape_of(*r));
    }
    int64_t m = sh[0], a = sh[sh.size() - 2], c = sh[sh.size() - 1];
    SP_CHECK(m == M, mf.logits, ": ", m, " samples, but ", files.labels, " has ", M);
    SP_CHECK(a >= 1, mf.logits, ": no queries (A = 0)");
    SP_CHECK(c >= 2, mf.logits, ": ", c, " classes; the statistic needs C >= 2");
    if (s == 0) {
      d.A = a;
      d.C = c;
    } else {
      SP_CHECK(a == d.A && c == d.C, mf.logits, ": shape ", shape_of(*r), " has A = ", a, ", C = ", c, " but ",
               files.models[0].logits, " has A = ", d.A, ", C = ", d.C);
    }
    logits.push_back(std::move(r));
  }
  // The query views used (all by default): the file has AF per sample, phi keeps A of them.
  const int64_t AF = d.A, C = d.C;
  d.file_views = AF;
  if (!files.query_views.empty()) {
    const int want = data::num_query_views(*data::query_views_from_name(files.query_views));
    SP_CHECK(AF == want, files.models[0].logits, ": ", AF, " query views per sample, but ", files.config,
             " says audit.query_views '", files.query_views, "' (", want, want == 1 ? " view)" : " views)");
  }
  const std::vector<int64_t> views = resolve_views(opt.views, AF, files.models[0].logits);
  d.A = int64_t(views.size());
  const int64_t A = d.A;
  for (int64_t i = 0; i < M; ++i)
    SP_CHECK(labels[size_t(i)] >= 0 && labels[size_t(i)] < C, files.labels, ": label ", labels[size_t(i)],
             " at index ", i, " is outside [0, ", C, ") (C from ", files.models[0].logits, ")");

  d.member.assign(size_t(M * S), 0);
  d.valid.assign(size_t(M * S), 1);
  for (int64_t s = 0; s < S; ++s) {
    const ModelFiles& mf = files.models[size_t(s)];
    npy::Reader kr(mf.keep);
    SP_CHECK(kr.shape().size() == 1, mf.keep, ": keep must be 1-D [M], got shape ", shape_of(kr));
    SP_CHECK(kr.numel() == M, mf.keep, ": ", kr.numel(), " entries, but ", files.labels, " has ", M, " samples and ",
             mf.logits, " has ", logits[size_t(s)]->shape()[0]);
    std::vector<int64_t> k = kr.read_integers();
    for (int64_t i = 0; i < M; ++i) {
      SP_CHECK(k[size_t(i)] == 0 || k[size_t(i)] == 1, mf.keep, ": entry ", i, " is ", k[size_t(i)], " (not 0/1)");
      d.member[size_t(i * S + s)] = uint8_t(k[size_t(i)]);
    }
    d.model_names.push_back(mf.dir);
  }

  d.phi.assign(size_t(M * A * S), 0.0);
  const int64_t block = std::max<int64_t>(1, opt.block);
  const int64_t nblocks = (M + block - 1) / block;
  const int threads = resolve_threads(opt.threads);
  std::vector<int64_t> dropped(size_t(threads), 0), bad_rows(size_t(threads), 0);
  std::vector<std::vector<char>> bufs(static_cast<size_t>(threads));
  parallel_tasks(nblocks, threads, [&](int64_t b, int tid) {
    const int64_t i0 = b * block, n = std::min(block, M - i0);
    for (int64_t s = 0; s < S; ++s) {
      const npy::Reader& r = *logits[size_t(s)];
      const size_t item = dtype_size(r.dtype());
      std::vector<char>& buf = bufs[size_t(tid)];
      buf.resize(size_t(block * AF * C) * item);
      r.read(buf.data(), i0 * AF * C, n * AF * C);
      for (int64_t ii = 0; ii < n; ++ii) {
        const int64_t i = i0 + ii, y = labels[size_t(i)];
        double* out = &d.phi[size_t(i * A * S + s)];
        bool ok = true;
        for (int64_t a = 0; a < A; ++a) {
          const size_t row = size_t((ii * AF + views[size_t(a)]) * C);
          double v = r.dtype() == DType::f32
                         ? lira_statistic(reinterpret_cast<const float*>(buf.data()) + row, C, y, opt.statistic)
                         : lira_statistic(reinterpret_cast<const double*>(buf.data()) + row, C, y, opt.statistic);
          if (std::isnan(v)) {
            if (opt.nan_policy == NanPolicy::error) {
              int64_t c = 0;
              double bad = 0;
              for (; c < C; ++c) {
                bad = r.dtype() == DType::f32 ? double(reinterpret_cast<const float*>(buf.data())[row + size_t(c)])
                                              : reinterpret_cast<const double*>(buf.data())[row + size_t(c)];
                if (!std::isfinite(bad)) break;
              }
              SP_FAIL(r.path(), ": non-finite logit ", bad, " at sample ", i, ", query ", views[size_t(a)], ", class ", c,
                      " (use --nan-policy drop to exclude such (model, sample) pairs and count them)");
            }
            ++bad_rows[size_t(tid)];
            ok = false;
          }
          out[a * S] = v;
        }
        if (!ok) {
          d.valid[size_t(i * S + s)] = 0;
          ++dropped[size_t(tid)];
          for (int64_t a = 0; a < A; ++a) out[a * S] = std::numeric_limits<double>::quiet_NaN();
        }
      }
    }
  });
  for (int t = 0; t < threads; ++t) {
    d.dropped_pairs += dropped[size_t(t)];
    d.nonfinite_logits += bad_rows[size_t(t)];
  }
  return d;
}

LiraData make_lira_data(int64_t S, int64_t M, int64_t A, std::span<const double> phi_sma,
                        std::span<const uint8_t> keep_sm) {
  SP_CHECK(S >= 1 && M >= 1 && A >= 1, "make_lira_data: S, M, A must be positive, got ", S, ", ", M, ", ", A);
  SP_CHECK(int64_t(phi_sma.size()) == S * M * A && int64_t(keep_sm.size()) == S * M,
           "make_lira_data: phi has ", phi_sma.size(), " values and keep ", keep_sm.size(), " for S=", S, " M=", M,
           " A=", A);
  LiraData d;
  d.S = S;
  d.M = M;
  d.A = A;
  d.C = 0;
  d.phi.resize(size_t(S * M * A));
  d.member.resize(size_t(S * M));
  d.valid.assign(size_t(S * M), 1);
  for (int64_t s = 0; s < S; ++s) {
    d.model_names.push_back("model " + std::to_string(s));
    for (int64_t i = 0; i < M; ++i) {
      SP_CHECK(keep_sm[size_t(s * M + i)] <= 1, "make_lira_data: keep[", s, ", ", i, "] is not 0/1");
      d.member[size_t(i * S + s)] = keep_sm[size_t(s * M + i)];
      bool ok = true;
      for (int64_t a = 0; a < A; ++a) ok = ok && std::isfinite(phi_sma[size_t((s * M + i) * A + a)]);
      for (int64_t a = 0; a < A; ++a)
        d.phi[size_t((i * A + a) * S + s)] = ok ? phi_sma[size_t((s * M + i) * A + a)] : std::nan("");
      if (!ok) {
        d.valid[size_t(i * S + s)] = 0;
        ++d.dropped_pairs;
      }
    }
  }
  return d;
}

}  // namespace sp::lira
