// Training loop (see train_loop.h).
#include "paradigms/engine/train_loop.h"

#include <cmath>

#include "kernels/env_flag.h"
#include "kernels/metrics.h"
#include "paradigms/engine/report_schedule.h"

namespace sp {

namespace {
// A tensor of t's shape and dtype on s (undefined for undefined t).
Tensor empty_like(const Tensor& t, Stream& s) { return t.defined() ? Tensor::empty(t.shape(), t.dtype(), s) : Tensor(); }

void copy_if_defined(const Tensor& dst, const Tensor& src, Stream& s) {
  if (dst.defined()) dst.copy_(src, s);
}
}  // namespace

Trainer::Trainer(const Model& model, const TrainRecipe& recipe, Stream& s, uint64_t seed)
    : model_(model), recipe_(recipe), s_(s), seed_(seed), tape_(s) {
  SP_CHECK(recipe.epochs >= 0, "train recipe: epochs ", recipe.epochs, " must be >= 0");
  SP_CHECK(recipe.batch_size >= 1, "train recipe: batch_size ", recipe.batch_size, " must be >= 1");
  theta_ = Tensor::empty({model.params().numel()}, DType::f32, s);
  buffers_ = Tensor::empty({std::max<int64_t>(model.buffers().numel(), 0)}, DType::f32, s);
  model.init(s, theta_, buffers_, seed);
  opt_ = make_optimizer(recipe.optim, theta_, s, recipe.decay_all ? Tensor() : model.params().decay_mask(s));
  loss_ = std::make_unique<HardCrossEntropy>(recipe.label_smoothing);
  metrics_ = Tensor::zeros({2}, DType::f64, s);
}

void Trainer::set_loss(std::unique_ptr<Loss> loss) {
  loss_ = std::move(loss);
  invalidate_step_graph("the loss changed");
}

void Trainer::set_execution(const TrainExecution& e) {
  SP_CHECK(std::isfinite(e.progress_sync_s) && e.progress_sync_s >= 0, "device.progress_sync_s ", e.progress_sync_s,
           " must be finite and >= 0");
  SP_CHECK(e.graph_warmup_steps >= 0, "device.graph_warmup_steps ", e.graph_warmup_steps, " must be >= 0");
  // SP_CUDA_DEBUG_SYNC synchronises after every launch, which a capture forbids: auto then runs eagerly.
  const bool graphs = e.cuda_graphs == CudaGraphMode::on ||
                      (e.cuda_graphs == CudaGraphMode::automatic && s_.is_cuda() && !cuda_debug_sync());
  SP_CHECK(!graphs || s_.is_cuda(), "device.cuda_graphs is on, but training runs on ", s_.device(),
           "; CUDA graphs need a GPU (auto uses them only there)");
  SP_CHECK(!graphs || !cuda_debug_sync(), "device.cuda_graphs is on, but SP_CUDA_DEBUG_SYNC=1 synchronises after "
           "every kernel launch, which a CUDA graph capture forbids: unset one of them");
  exec_ = e;
  graph_.reset();
  graph_backend_.reset();
  graph_batch_ = Batch();
  graph_logits_ = Tensor();
  if (graphs) {
    graph_backend_ = std::make_unique<StreamGraphBackend>(s_);
    graph_ = std::make_unique<StepGraph>(*graph_backend_, e.graph_warmup_steps);
  }
}

void Trainer::invalidate_step_graph(std::string why) {
  if (graph_) graph_->invalidate(std::move(why));
}

int64_t Trainer::steps_per_epoch(int64_t n) const {
  int64_t b = recipe_.batch_size;
  return recipe_.drop_last ? n / b : (n + b - 1) / b;
}

Var Trainer::forward(Tape& t, const Tensor& x, bool training) {
  Var th = t.leaf(theta_, training);
  return model_.forward(t, th, buffers_, t.leaf(x), training);
}

EpochStats Trainer::train_epoch(const DeviceData& d, int epoch, const std::function<void(const TrainProgress&)>& progress,
                                double progress_interval_s) {
  DatasetSource source(d, recipe_.augment, recipe_.augment_cfg, seed_);
  return train_epoch(source, epoch, progress, progress_interval_s);
}

EpochStats Trainer::train_epoch(TrainingSource& source, int epoch,
                                const std::function<void(const TrainProgress&)>& progress,
                                double progress_interval_s) {
  const int64_t n = source.size(), steps = steps_per_epoch(n), B = recipe_.batch_size;
  SP_CHECK(steps > 0, "train_epoch: ", n, " samples give no batch of ", B);
  ScheduleConfig sc = recipe_.schedule;
  if (sc.total_steps == 0) sc.total_steps = int64_t(recipe_.epochs) * steps;
  LrSchedule schedule(sc);

  source.begin_epoch(s_, epoch);
  EpochStats es = run_epoch(
      epoch, steps,
      [&](int64_t step, const Tensor& acc) {
        int64_t lo = step * B, hi = std::min(n, lo + B);
        Batch b = source.batch(s_, epoch, lo, hi);
        Tensor logits = train_step(b, acc, schedule.lr(opt_->steps()));
        if (step_hook_) step_hook_(lo, b.ids, logits);
        return hi - lo;
      },
      progress, progress_interval_s);
  tape_.clear();
  return es;
}

Tensor Trainer::step_work(const Batch& b, const Tensor& acc) {
  tape_.clear();
  Var th = tape_.leaf(theta_, true);
  Var logits = model_.forward(tape_, th, buffers_, tape_.leaf(b.x), true);
  Var loss = loss_->compute(tape_, logits, b);
  Tensor g = tape_.grad(loss, {th})[0];
  accumulate_metrics(s_, acc, tape_.value(loss), tape_.value(logits), b.labels);
  opt_->apply(s_, theta_, g);
  return tape_.value(logits);
}

Tensor Trainer::train_step(const Batch& b, const Tensor& acc, double lr) {
  StepGraph::Action action = StepGraph::Action::eager;
  if (graph_) {
    StepKey key;
    for (const Tensor* t : {&b.x, &b.labels, &b.soft}) key.add(*t);
    action = graph_->next(key);
  }
  if (action == StepGraph::Action::capture) {
    // The graph's inputs: allocated before the capture (so outside its pool) and kept while it lives.
    graph_batch_ = Batch();
    graph_batch_.x = empty_like(b.x, s_);
    graph_batch_.labels = empty_like(b.labels, s_);
    graph_batch_.soft = empty_like(b.soft, s_);
  }
  if (action != StepGraph::Action::eager) {
    copy_if_defined(graph_batch_.x, b.x, s_);
    copy_if_defined(graph_batch_.labels, b.labels, s_);
    copy_if_defined(graph_batch_.soft, b.soft, s_);
  }
  opt_->prepare(s_, lr);
  Tensor logits;
  switch (action) {
    case StepGraph::Action::eager: logits = step_work(b, acc); break;
    case StepGraph::Action::capture:
      graph_->capture([&] { graph_logits_ = step_work(graph_batch_, acc); });
      logits = graph_logits_;
      break;
    case StepGraph::Action::replay:
      graph_->replay();
      logits = graph_logits_;
      break;
  }
  opt_->advance();
  return logits;
}

EpochStats Trainer::run_epoch(int epoch, int64_t steps, const std::function<int64_t(int64_t, const Tensor&)>& step,
                              const std::function<void(const TrainProgress&)>& progress, double progress_interval_s) {
  // One metrics tensor for the whole run: a captured step graph adds to it at a fixed address.
  const Tensor& acc = metrics_;
  acc.zero_(s_);
  ReportSchedule sync(std::max(progress_interval_s, exec_.progress_sync_s));
  int64_t seen = 0;
  TrainProgress pr;
  pr.epoch = epoch;
  pr.epochs = recipe_.epochs;
  pr.steps = steps;
  auto report = [&](int64_t done) {
    auto a = acc.to_vector<double>(s_);  // the one synchronisation of a progress point
    pr.step = done;
    pr.loss = seen ? a[0] / double(seen) : 0;
    pr.accuracy = seen ? a[1] / double(seen) : 0;
    double el = sync.elapsed();
    pr.images_per_s = el > 0 ? double(seen) / el : 0;
    double left_steps = double(steps - done) + double(recipe_.epochs - epoch - 1) * double(steps);
    pr.eta_s = done > 0 ? el / double(done) * left_steps : 0;
    SP_CHECK(std::isfinite(pr.loss), "training diverged: loss is ", pr.loss, " at epoch ", epoch + 1, " step ",
             done, " with learning rate ", recipe_.schedule.base_lr, " (recipe.optimizer.lr) and batch size ",
             recipe_.batch_size, "; a smaller learning rate is the usual remedy");
    if (progress) progress(pr);
    sync.mark();
  };

  for (int64_t j = 0; j < steps; ++j) {
    seen += step(j, acc);
    if (progress && j + 1 < steps && sync.due()) report(j + 1);
  }
  report(steps);
  EpochStats es;
  es.epoch = epoch;
  es.loss = pr.loss;
  es.accuracy = pr.accuracy;
  es.seconds = sync.elapsed();
  es.images_per_s = es.seconds > 0 ? double(seen) / es.seconds : 0;
  return es;
}

Tensor Trainer::predict(const DeviceData& d, const Tensor& ids, bool query_views, data::QueryViews views) {
  Tape t(s_);
  t.set_recording(false);
  if (!query_views) {
    Tensor x = data::normalize_batch(s_, d.images, ids, recipe_.augment_cfg.norm, recipe_.augment_cfg.dtype);
    return t.value(forward(t, input_map_ ? input_map_(s_, x) : x, false));
  }
  Tensor q = data::query_views(s_, d.images, ids, recipe_.augment_cfg.norm, recipe_.augment_cfg.dtype, views);
  int64_t n = q.size(0), a = q.size(1);
  Tensor flat = q.view({n * a, q.size(2), q.size(3), q.size(4)});
  if (input_map_) flat = input_map_(s_, flat);
  Tensor z = t.value(forward(t, flat, false));
  return z.view({n, a, z.size(1)});
}

double Trainer::evaluate(const DeviceData& d, int64_t batch) {
  const int64_t n = d.size();
  SP_CHECK(n > 0 && batch > 0, "evaluate: empty dataset or batch");
  std::vector<int64_t> index(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) index[size_t(i)] = i;
  Tensor ids = Tensor::from_vector(index, {n}).to(s_.device(), s_);
  Tensor acc = Tensor::zeros({2}, DType::f64, s_);
  Tensor zero = Tensor::zeros({}, DType::f32, s_);
  for (int64_t lo = 0; lo < n; lo += batch) {
    int64_t hi = std::min(n, lo + batch);
    Tensor z = predict(d, ids.slice(0, lo, hi));
    accumulate_metrics(s_, acc, zero, z, d.labels.slice(0, lo, hi));
  }
  return acc.to_vector<double>(s_)[1] / double(n);
}

}  // namespace sp
