// Python binding that reads an experiment directory into NumPy arrays and dicts: the files sp_lira reads (found
// and ordered by attacks/lira_data.h's find_experiment, either layout), each array read straight into its NumPy
// buffer with data/npy.h, plus the JSON documents around them (experiment.json, summary.json, lira/results.json,
// each shadow's metrics.json). Tested by python/tests/test_experiment.py and test_errors.py.
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include "attacks/lira_data.h"
#include "data/npy.h"
#include "python/src/bindings.h"
#include "python/src/py_util.h"

#include <pybind11/stl/filesystem.h>

namespace sp::py {
namespace {

namespace fs = std::filesystem;
using namespace sp::lira;

// A JSON file as Python objects (key order kept), None when the file does not exist.
py::object json_file(const fs::path& p) {
  if (!fs::exists(p)) return py::none();
  std::ifstream in(p);
  SP_CHECK(in, p.string(), ": cannot open");
  std::stringstream ss;
  ss << in.rdbuf();
  nlohmann::ordered_json j;
  try {
    j = nlohmann::ordered_json::parse(ss.str());
  } catch (const nlohmann::json::exception& e) {
    SP_FAIL(p.string(), ": not valid JSON: ", e.what());
  }
  return json_to_py(j);
}

// Integer labels [n] of a 1-D file.
py::array_t<int64_t> read_labels(const std::string& path) {
  npy::Reader r(path);
  SP_CHECK(r.shape().size() == 1, path, ": labels must be 1-D, got shape ", npy::shape_str(r.shape()));
  std::vector<int64_t> v = r.read_integers();
  return to_numpy(std::move(v), {r.numel()});
}

// The per-model arrays of `paths` (each [N, A, C], or [N, 1, A, C] for tf-privacy) as one [S, N, A, C] array: float32
// when every file is float32, else float64. Headers are all checked before any data is read.
py::array read_logits(const std::vector<std::string>& paths, int64_t N, bool tf, const char* what) {
  std::vector<std::unique_ptr<npy::Reader>> rs;
  int64_t A = 0, C = 0;
  bool all_f32 = true;
  for (size_t s = 0; s < paths.size(); ++s) {
    auto r = std::make_unique<npy::Reader>(paths[s]);
    const auto& sh = r->shape();
    SP_CHECK(r->dtype() == DType::f32 || r->dtype() == DType::f64, paths[s], ": ", what,
             " must be float32 (or float64), got ", npy::descr_of(r->dtype()));
    if (tf)
      SP_CHECK(sh.size() == 4 && sh[1] == 1, paths[s], ": tf-privacy logits must have shape [N, 1, A, C], got ",
               npy::shape_str(sh));
    else
      SP_CHECK(sh.size() == 3, paths[s], ": ", what, " must have shape [N, A, C], got ", npy::shape_str(sh));
    SP_CHECK(sh[0] == N, paths[s], ": ", sh[0], " samples, but the labels have ", N);
    const int64_t a = sh[sh.size() - 2], c = sh[sh.size() - 1];
    if (s == 0) {
      A = a;
      C = c;
    } else {
      SP_CHECK(a == A && c == C, paths[s], ": shape ", npy::shape_str(sh), " has A = ", a, ", C = ", c, " but ",
               paths[0], " has A = ", A, ", C = ", C);
    }
    all_f32 = all_f32 && r->dtype() == DType::f32;
    rs.push_back(std::move(r));
  }
  const int64_t S = int64_t(paths.size()), per = N * A * C;
  std::vector<py::ssize_t> shape{S, N, A, C};
  if (all_f32) {
    py::array_t<float> out(shape);
    float* o = out.mutable_data();
    py::gil_scoped_release nogil;
    for (int64_t s = 0; s < S; ++s) rs[size_t(s)]->read(o + s * per, 0, per);
    return out;
  }
  py::array_t<double> out(shape);
  double* o = out.mutable_data();
  py::gil_scoped_release nogil;
  std::vector<float> buf;
  for (int64_t s = 0; s < S; ++s) {
    const npy::Reader& r = *rs[size_t(s)];
    if (r.dtype() == DType::f64) {
      r.read(o + s * per, 0, per);
    } else {
      buf.resize(size_t(per));
      r.read(buf.data(), 0, per);
      std::copy(buf.begin(), buf.end(), o + s * per);
    }
  }
  return out;
}

py::dict read_experiment_py(const fs::path& dir_path, const std::string& layout_name_, py::handle models_obj,
                            bool logits) {
  const std::string dir = dir_path.string();
  const Layout layout = layout_from_name(layout_name_);
  std::vector<int64_t> models;
  if (!models_obj.is_none()) models = models_obj.cast<std::vector<int64_t>>();
  const ExperimentFiles f = find_experiment(dir, layout, models);
  const bool tf = layout == Layout::tf_privacy;
  const int64_t S = int64_t(f.models.size());
  SP_CHECK(S >= 1, dir, ": no models");

  py::dict out;
  out["dir"] = dir;
  out["layout"] = std::string(lira::layout_name(layout));
  out["query_views"] = f.query_views.empty() ? py::object(py::none()) : py::object(py::str(f.query_views));
  py::list names;
  for (const ModelFiles& m : f.models) names.append(m.dir);
  out["models"] = names;
  py::array_t<int64_t> labels = read_labels(f.labels);
  const int64_t M = labels.shape(0);
  out["labels"] = labels;

  py::array_t<bool> keep({S, M});
  bool* k = keep.mutable_data();
  for (int64_t s = 0; s < S; ++s) {
    const ModelFiles& m = f.models[size_t(s)];
    npy::Reader r(m.keep);
    SP_CHECK(r.shape().size() == 1 && r.numel() == M, m.keep, ": keep must have shape (", M, ",) like ", f.labels,
             ", got ", npy::shape_str(r.shape()));
    const std::vector<int64_t> v = r.read_integers();
    for (int64_t i = 0; i < M; ++i) {
      SP_CHECK(v[size_t(i)] == 0 || v[size_t(i)] == 1, m.keep, ": entry ", i, " is ", v[size_t(i)], " (not 0/1)");
      k[s * M + i] = v[size_t(i)] != 0;
    }
  }
  out["keep"] = keep;

  std::vector<std::string> paths;
  for (const ModelFiles& m : f.models) paths.push_back(m.logits);
  out["logits"] = logits ? py::object(read_logits(paths, M, tf, "logits")) : py::object(py::none());

  // Population queries (RMIA), when the labels and every selected model's logits are there.
  bool population = !f.population_labels.empty();
  for (const ModelFiles& m : f.models) population = population && !m.population_logits.empty();
  out["population_labels"] = py::none();
  out["population_logits"] = py::none();
  if (population) {
    py::array_t<int64_t> plabels = read_labels(f.population_labels);
    out["population_labels"] = plabels;
    if (logits) {
      std::vector<std::string> pp;
      for (const ModelFiles& m : f.models) pp.push_back(m.population_logits);
      out["population_logits"] = read_logits(pp, plabels.shape(0), false, "population logits");
    }
  }

  // sp_train's LiRA statistic (shadow/<k>/scores.npy, float64 [M, A]) when every selected model has it.
  out["scores"] = py::none();
  bool scores = !tf;
  for (const ModelFiles& m : f.models) scores = scores && fs::exists(fs::path(m.dir) / "scores.npy");
  if (scores) {
    std::vector<std::unique_ptr<npy::Reader>> rs;
    int64_t A = 0;
    for (const ModelFiles& m : f.models) {
      const std::string p = (fs::path(m.dir) / "scores.npy").string();
      auto r = std::make_unique<npy::Reader>(p);
      SP_CHECK(r->dtype() == DType::f64 && r->shape().size() == 2 && r->shape()[0] == M, p,
               ": scores must be float64 [", M, ", A], got ", npy::descr_of(r->dtype()), " ", npy::shape_str(r->shape()));
      if (rs.empty()) A = r->shape()[1];
      SP_CHECK(r->shape()[1] == A, p, ": ", r->shape()[1], " queries, but ", f.models[0].dir, "/scores.npy has ", A);
      rs.push_back(std::move(r));
    }
    py::array_t<double> a({S, M, A});
    double* o = a.mutable_data();
    for (int64_t s = 0; s < S; ++s) rs[size_t(s)]->read(o + s * M * A, 0, M * A);
    out["scores"] = a;
  }

  py::list metrics;
  for (const ModelFiles& m : f.models) metrics.append(json_file(fs::path(m.dir) / "metrics.json"));
  out["metrics"] = metrics;
  out["experiment"] = json_file(fs::path(dir) / "experiment.json");
  out["summary"] = json_file(fs::path(dir) / "summary.json");
  out["results"] = json_file(fs::path(dir) / "lira" / "results.json");
  return out;
}

}  // namespace

void bind_experiment(py::module_& m) {
  m.def("read_experiment", &read_experiment_py, py::arg("dir"), py::kw_only(), py::arg("layout") = "synpriv",
        py::arg("models") = py::none(), py::arg("logits") = true,
        R"doc(Reads an experiment directory (the files sp_lira reads, checked the same way) into a dict:
dir, layout, query_views (what the A views of the logits are: "all" (18), "flips" (2) or "clean" (1), from
config.json's audit.query_views; None when no config.json names them), models (the model directories, in row order), labels (int64 [M]), keep (bool [S, M]),
logits (float32/float64 [S, M, A, C]; None with logits=False), population_labels (int64 [P]) and
population_logits ([S, P, A, C]) when the experiment has population queries (else None), scores (sp_train's
LiRA statistic, float64 [S, M, A], when every model has scores.npy), metrics (each model's metrics.json or None),
and experiment (experiment.json), summary (sp_audit's summary.json) and results (lira/results.json), each None
when absent. layout: "synpriv" or "tf-privacy"; models: indices of the models to read (default all).)doc");
}

}  // namespace sp::py
