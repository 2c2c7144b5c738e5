// Training and querying one shadow model (see shadow_train.h).
#include "paradigms/engine/shadow_train.h"

#include <chrono>
#include <cmath>
#include <filesystem>

#include "data/atomic_file.h"
#include "data/file_util.h"
#include "data/json_read.h"
#include "paradigms/engine/shadow_metrics.h"
#include "data/npy.h"
#include "kernels/lira_stat.h"
#include "paradigms/engine/model_file.h"
#include "paradigms/engine/train_state.h"

namespace fs = std::filesystem;

namespace sp {

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

struct ShadowPaths {
  std::string dir, lock, metrics, checkpoint, model, logits, scores, logits_all, population_logits;
  explicit ShadowPaths(std::string d)
      : dir(d),
        lock(d + "/" + kShadowLockName),
        metrics(d + "/metrics.json"),
        checkpoint(d + "/checkpoint.safetensors"),
        model(d + "/model.safetensors"),
        logits(d + "/logits.npy"),
        scores(d + "/scores.npy"),
        logits_all(d + "/logits_all.npy"),
        population_logits(d + "/" + kPopulationLogitsName) {}
};

std::vector<int64_t> iota_ids(int64_t n) {
  std::vector<int64_t> v(size_t(std::max<int64_t>(n, 0)));
  for (int64_t i = 0; i < n; ++i) v[size_t(i)] = i;
  return v;
}

// logits_all.npy: query views of the whole training set, streamed block by block.
double write_query_all(Trainer& tr, const ExperimentRun& run, const std::string& path, Stream& s) {
  auto t0 = Clock::now();
  int64_t n = run.train.size(), c = tr.model().config().num_classes;
  npy::Writer w(path, DType::f32, std::vector<int64_t>{n, data::num_query_views(run.cfg.query_views), c});
  for_query_blocks(tr, s, run.train, iota_ids(n), run.cfg.eval_batch, run.cfg.query_views, [&](int64_t, const Tensor& z) {
    std::vector<float> v = z.to_vector<float>(s);
    w.append(v.data(), int64_t(v.size()));
  });
  w.commit();
  return since(t0);
}

// population_logits.npy: the query views of the population set (population.h), for population-based attacks.
double write_population(Trainer& tr, const ExperimentRun& run, const std::string& path, Stream& s) {
  auto t0 = Clock::now();
  const int64_t c = tr.model().config().num_classes;
  npy::Writer w(path, DType::f32,
                std::vector<int64_t>{run.population.size(), data::num_query_views(run.cfg.query_views), c});
  for_query_blocks(tr, s, run.test, run.population.indices, run.cfg.eval_batch, run.cfg.query_views,
                   [&](int64_t, const Tensor& z) {
    std::vector<float> v = z.to_vector<float>(s);
    w.append(v.data(), int64_t(v.size()));
  });
  w.commit();
  return since(t0);
}

nlohmann::json history_json(const std::vector<EpochStats>& h) {
  nlohmann::json a = nlohmann::json::array();
  for (const EpochStats& e : h)
    a.push_back({{"epoch", e.epoch + 1}, {"loss", e.loss}, {"accuracy", e.accuracy}, {"seconds", e.seconds},
                 {"images_per_s", e.images_per_s}});
  return a;
}


// The A query views (run.cfg.query_views) of every audit sample, their LiRA statistic against the training
// label, and how many IN / OUT audit samples the clean view classifies as their training label.
struct AuditQuery {
  std::vector<float> logits;   // [M, A, C]
  std::vector<double> scores;  // [M, A]
  int64_t in_hits = 0, out_hits = 0, nonfinite = 0;
  double seconds = 0;
};

AuditQuery query_audit(Trainer& tr, Stream& s, const ExperimentRun& run, int k) {
  auto t0 = Clock::now();
  const data::AuditSet& audit = run.exp.audit;
  const int64_t M = audit.size(), A = data::num_query_views(run.cfg.query_views), C = tr.model().config().num_classes;
  AuditQuery q;
  q.logits.resize(size_t(M * A * C));
  q.scores.resize(size_t(M * A));
  Tensor labels = Tensor::from_vector(audit.labels, {M}).to(s.device(), s);
  for_query_blocks(tr, s, run.train, audit.indices, run.cfg.eval_batch, run.cfg.query_views,
                   [&](int64_t first, const Tensor& z) {
    Tensor phi = lira_stat(s, z, labels.slice(0, first, first + z.size(0)), lira::Statistic::logit);
    std::vector<float> zv = z.to_vector<float>(s);
    std::vector<double> pv = phi.to_vector<double>(s);
    std::copy(zv.begin(), zv.end(), q.logits.begin() + first * A * C);
    std::copy(pv.begin(), pv.end(), q.scores.begin() + first * A);
  });
  for (int64_t j = 0; j < M; ++j) {
    const float* z = &q.logits[size_t(j * A * C)];  // view 0 of every selection: the clean image
    bool hit = std::max_element(z, z + C) - z == audit.labels[size_t(j)];
    (run.exp.membership.in(k, j) ? q.in_hits : q.out_hits) += hit ? 1 : 0;
  }
  for (double v : q.scores) q.nonfinite += std::isfinite(v) ? 0 : 1;
  q.seconds = since(t0);
  return q;
}

}  // namespace

DeviceData upload_training_set(const ExperimentRun& run, const data::TrainingSet& ts, const std::string& name, Stream& s) {
  data::Dataset set = data::subset(run.data.train, ts.indices, name);
  set.labels = Tensor::from_vector(ts.labels, {int64_t(ts.labels.size())});
  DeviceData d = DeviceData::upload(set, s);
  s.synchronize();  // before the host copy goes away
  return d;
}

void for_query_blocks(Trainer& tr, Stream& s, const DeviceData& d, const std::vector<int64_t>& ids,
                      int64_t batch_images, data::QueryViews views,
                      const std::function<void(int64_t first, const Tensor& logits)>& sink) {
  const int64_t n = int64_t(ids.size());
  if (n == 0) return;
  const int64_t per = std::max<int64_t>(1, batch_images / data::num_query_views(views));
  Tensor dev_ids = Tensor::from_vector(ids, {n}).to(d.images.device(), s);
  for (int64_t lo = 0; lo < n; lo += per) {
    int64_t hi = std::min(n, lo + per);
    sink(lo, tr.predict(d, dev_ids.slice(0, lo, hi), true, views));
  }
}

ShadowResult train_shadow(ExperimentRun& run, int k, Stream& s, const ShadowPreparer& preparer,
                          const ShadowOptions& opt) {
  const RunConfig& cfg = run.cfg;
  const ShadowPaths p(run.exp.shadow_dir(k));
  auto log = [&](const std::string& text) {
    if (opt.progress) opt.progress->line(text);
  };
  const std::string name = "shadow " + std::to_string(k);
  const uint64_t seed = shadow_seed(cfg.seed, k);
  const std::string tag = name + " seed " + std::to_string(seed);
  std::unique_ptr<Model> model = make_model(cfg.model);
  std::error_code ec;

  // One trainer per shadow at a time, whatever started it (sp_train, sp_audit workers, SLURM tasks).
  std::unique_ptr<data::FileLock> lock = data::FileLock::try_lock(p.lock);
  if (!lock) {
    const std::string who = data::FileLock::holder(p.lock).str();
    if (!opt.wait_if_busy) {
      log(name + ": being trained by " + who + " (" + p.lock + " is locked)");
      ShadowResult r;
      r.busy = true;
      return r;
    }
    log(name + ": being trained by " + who + " (" + p.lock + " is locked), waiting");
    // The kernel releases the flock when its holder ends, however it ends: then this process finds the
    // shadow done, or takes it over from the holder's last checkpoint.
    lock = std::make_unique<data::FileLock>(p.lock);
    log(name + ": lock released by " + who);
  }
  // Temporaries of a trainer killed between writing and renaming (only the lock holder writes here).
  for (const data::RemovedTemporary& t : data::remove_stale_temporaries(p.dir, false))
    log(name + ": removed the stale temporary " + t.path + " (process " + std::to_string(t.pid) + " is gone)");
  nlohmann::json done_metrics;
  if (fs::exists(p.metrics)) {
    std::string problem;
    done_metrics = read_shadow_metrics(p.metrics, problem);
    if (!problem.empty()) {
      // Not a finished shadow's record: keep it for inspection and train the shadow again.
      const std::string aside = p.metrics + ".invalid";
      fs::rename(p.metrics, aside, ec);
      SP_CHECK(!ec, name, ": ", p.metrics, " is invalid (", problem, ") and could not be moved aside: ", ec.message());
      log(name + ": " + p.metrics + " is not a finished shadow's record (" + problem + "); moved to " + aside +
          ", training the shadow again");
    }
  }
  if (fs::exists(p.metrics)) {
    ShadowResult r;
    r.skipped = true;
    r.metrics = std::move(done_metrics);
    fs::remove(p.checkpoint, ec);  // a run killed between metrics.json and this removal
    // Queries a finished shadow lacks (asked for after it was trained, or a directory from before population
    // queries existed) are computed from its model file.
    const bool want_all = opt.query_all && !fs::exists(p.logits_all);
    const bool want_population = run.population.size() > 0 && !fs::exists(p.population_logits);
    if (want_all || want_population) {
      Trainer tr(*model, cfg.recipe_for(run.train.size()), s, seed);
      load_model(p.model, *model, tr.theta(), tr.buffers(), s);
      if (want_all)
        log(name + ": done before; wrote logits_all.npy in " +
            format_duration(write_query_all(tr, run, p.logits_all, s)));
      if (want_population)
        log(name + ": done before; wrote " + kPopulationLogitsName + " in " +
            format_duration(write_population(tr, run, p.population_logits, s)));
    } else {
      log(name + ": done before (metrics.json exists), skipped");
    }
    return r;
  }

  // Model k's private training set D_k (every non-audit sample plus its IN audit samples, with their
  // training labels), as the paradigm prepares it (a coreset of it, for instance).
  data::TrainingSet ts = data::private_training_set(run.train_labels, run.exp.audit, run.exp.membership, k);
  run.checkpoint_interval_s = opt.checkpoint_interval_s;
  std::unique_ptr<ShadowJob> job = preparer.prepare_shadow(run, k, ts, s, opt.progress);
  auto t_setup = Clock::now();
  DeviceData d = upload_training_set(run, ts, run.data.train.name + "/shadow" + std::to_string(k), s);
  const int64_t n = job->train_size(d), M = run.exp.audit.size();
  int64_t num_in = 0;
  for (int64_t j = 0; j < M; ++j) num_in += run.exp.membership.in(k, j) ? 1 : 0;
  TrainRecipe recipe = cfg.recipe_for(n);
  job->adjust_recipe(recipe);
  Trainer tr(*model, recipe, s, seed);
  tr.set_execution(cfg.execution);
  job->start(tr, d, name, log);
  std::unique_ptr<TrainingSource> source = job->source(tr, d, seed);
  TrainState st;
  if (fs::exists(p.checkpoint)) {
    st = load_train_state(p.checkpoint, tr, tag, s);
    job->load_checkpoint_state(p.checkpoint);
    log(name + ": resuming from its checkpoint after epoch " + std::to_string(st.epochs_done) + "/" +
        std::to_string(recipe.epochs));
  }
  const int resumed_from = st.epochs_done;
  double setup_s = since(t_setup);

  // Training, with epoch checkpoints.
  if (opt.progress) opt.progress->set_prefix(name);
  auto on_progress = [&](const TrainProgress& pr) {
    if (opt.progress) opt.progress->update(pr);
  };
  double interval = opt.progress ? opt.progress->update_interval_s() : 1e30;
  auto last_checkpoint = Clock::now();
  for (int e = st.epochs_done; e < recipe.epochs; ++e) {
    EpochStats es = job->train_epoch(tr, *source, e, on_progress, interval);
    st.history.push_back(es);
    st.epochs_done = e + 1;
    if (e + 1 == recipe.epochs || since(last_checkpoint) >= opt.checkpoint_interval_s) {
      save_train_state(p.checkpoint, tr, st, tag, s, job->checkpoint_state());
      last_checkpoint = Clock::now();
    }
    char line[200];
    std::snprintf(line, sizeof line, "%s epoch %d/%d  loss %.4f  train acc %.2f%%  %s img/s  %s", name.c_str(), e + 1,
                  recipe.epochs, es.loss, 100 * es.accuracy, format_rate(es.images_per_s).c_str(),
                  format_duration(es.seconds).c_str());
    log(line);
  }
  double train_s = 0;
  for (const EpochStats& e : st.history) train_s += e.seconds;

  // Evaluation (eval mode): test accuracy and accuracy on the model's own training set; the audit queries.
  job->finish_training(tr);
  auto t_eval = Clock::now();
  double test_acc = tr.evaluate(run.test, cfg.eval_batch);
  double train_acc = tr.evaluate(d, cfg.eval_batch);
  double eval_s = since(t_eval);
  AuditQuery q = query_audit(tr, s, run, k);
  if (q.nonfinite) log(name + ": warning: " + std::to_string(q.nonfinite) + " non-finite LiRA scores (non-finite logits)");

  // Outputs; metrics.json last, since it marks the shadow as done.
  auto t_write = Clock::now();
  const int64_t A = data::num_query_views(cfg.query_views), C = cfg.model.num_classes;
  save_model(p.model, *model, tr.theta(), tr.buffers(), tr.optimizer().steps(),
             {{"shadow", std::to_string(k)}, {"seed", std::to_string(seed)},
              {"experiment_seed", std::to_string(cfg.seed)}},
             s);
  npy::write(p.logits, std::vector<int64_t>{M, A, C}, q.logits);
  npy::write(p.scores, std::vector<int64_t>{M, A}, q.scores);
  double query_all_s = opt.query_all ? write_query_all(tr, run, p.logits_all, s) : 0;
  double population_s = run.population.size() > 0 ? write_population(tr, run, p.population_logits, s) : 0;
  double write_s = since(t_write) - query_all_s - population_s;

  const EpochStats last = st.history.empty() ? EpochStats{} : st.history.back();
  int64_t trained_images = n * int64_t(recipe.epochs);
  nlohmann::json m = {
      {"shadow", k},
      {"seed", seed},
      {"model", cfg.model.name},
      {"width", cfg.model.width},
      {"parameters", model->params().numel()},
      {"device", s.device().str()},
      {"tf32", s.is_cuda() && s.allow_tf32},
      {"precision", precision_name(cfg.resolved_precision(s))},
      {"deterministic", s.is_cuda() && s.deterministic},
      {"train_size", n},
      {"num_audit", M},
      {"num_audit_in", num_in},
      {"population_size", run.population.size()},
      {"epochs", recipe.epochs},
      {"steps", tr.optimizer().steps()},
      {"test_accuracy", test_acc},
      {"train_accuracy", train_acc},
      {"final_epoch_loss", last.loss},
      {"final_epoch_accuracy", last.accuracy},
      {"audit_in_accuracy", num_in ? double(q.in_hits) / double(num_in) : 0.0},
      {"audit_out_accuracy", M - num_in ? double(q.out_hits) / double(M - num_in) : 0.0},
      {"score_statistic", "logit"},
      {"query_views", data::query_views_name(cfg.query_views)},
      {"nonfinite_scores", q.nonfinite},
      {"images_per_s", train_s > 0 ? double(trained_images) / train_s : 0.0},
      {"query_images_per_s", q.seconds > 0 ? double(M * A) / q.seconds : 0.0},
      {"seconds",
       {{"setup", setup_s},
        {"train", train_s},
        {"evaluate", eval_s},
        {"query", q.seconds},
        {"query_all", query_all_s},
        {"query_population", population_s},
        {"write", write_s}}},
      {"resumed_from_epoch", resumed_from},
      {"history", history_json(st.history)}};
  job->add_metrics(m, st, train_s);
  write_file_atomic(p.metrics, m.dump(2) + "\n");
  fs::remove(p.checkpoint, ec);

  char line[240];
  std::snprintf(line, sizeof line,
                "%s: test acc %.2f%%  train acc %.2f%%  audit fit IN %.0f%% OUT %.0f%% (%lld IN of %lld)  "
                "train %s",
                name.c_str(), 100 * test_acc, 100 * train_acc, 100 * m["audit_in_accuracy"].get<double>(),
                100 * m["audit_out_accuracy"].get<double>(), (long long)num_in, (long long)M,
                format_duration(train_s).c_str());
  log(line);
  ShadowResult r;
  r.metrics = std::move(m);
  return r;
}

}  // namespace sp
