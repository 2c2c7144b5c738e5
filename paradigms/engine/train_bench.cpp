// Training and query throughput on synthetic data (see train_bench.h).
#include "paradigms/engine/train_bench.h"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdio>

#include "kernels/counter_rng.h"
#include "kernels/cpu/fast_path.h"
#include "kernels/cuda_api.h"
#include "kernels/registry.h"
#include "nn/models/layer_builder.h"
#include "paradigms/engine/progress.h"
#include "paradigms/engine/shadow_train.h"

namespace sp {

namespace {

using Clock = std::chrono::steady_clock;

// n random images and labels (deterministic), uploaded to s's device.
DeviceData synthetic_data(int64_t n, const ModelConfig& mc, Stream& s) {
  const int64_t hw = mc.image_size * mc.image_size, per = mc.in_channels * hw;
  std::vector<uint8_t> px(size_t(n * per));
  std::vector<int64_t> labels(static_cast<size_t>(n));
  crng::Stream32 r(crng::derive_key(12345, 0xBE4C), 0);
  for (auto& b : px) b = uint8_t(r.next_u32() >> 24);
  for (auto& y : labels) y = int64_t(r.below64(uint64_t(mc.num_classes)));
  DeviceData d;
  d.images = Tensor::from_vector(px, {n, mc.in_channels, mc.image_size, mc.image_size}).to(s.device(), s);
  d.labels = Tensor::from_vector(labels, {n}).to(s.device(), s);
  d.host_labels = labels;
  return d;
}

DeviceData first(const DeviceData& d, int64_t n) {
  DeviceData out;
  out.images = d.images.slice(0, 0, n);
  out.labels = d.labels.slice(0, 0, n);
  out.host_labels.assign(d.host_labels.begin(), d.host_labels.begin() + n);
  return out;
}

TrainRecipe bench_recipe(int64_t batch) {
  TrainRecipe r;
  r.epochs = 2;
  r.batch_size = batch;
  r.optim.kind = OptimKind::sgd;
  r.optim.momentum = 0.9;
  r.optim.nesterov = true;
  r.optim.weight_decay = 5e-4;
  r.schedule.kind = ScheduleKind::constant;
  r.schedule.base_lr = 0.01;
  r.drop_last = true;
  return r;
}

// CPU seconds of every thread of this process so far.
double process_cpu_seconds() {
  timespec ts{};
  SP_CHECK(clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) == 0, "bench: clock_gettime(CLOCK_PROCESS_CPUTIME_ID) failed");
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

WorkCounts work_counts(const Stream& s) {
  return {kernel_dispatches(backend_of(s.device())), s.is_cuda() ? cuda_api::kernel_launches() : 0};
}

}  // namespace

DeviceData bench_synthetic_data(int64_t n, const ModelConfig& mc, Stream& s) { return synthetic_data(n, mc, s); }

std::vector<BenchRow> run_train_bench(const BenchOptions& opt, Stream& s) {
  SP_CHECK(!opt.batches.empty() && opt.steps >= 1 && opt.warmup_steps >= 0, "bench: needs batch sizes, steps >= 1");
  for (int64_t b : opt.batches) SP_CHECK(b >= 1, "bench: batch size ", b, " must be >= 1");
  const Precision precision = resolve_precision(opt.precision, s);
  apply_precision(s, precision);
  ModelConfig mc = opt.model;
  mc.bf16 = precision == Precision::bf16;
  std::unique_ptr<Model> model = make_model(mc);
  int64_t max_batch = *std::max_element(opt.batches.begin(), opt.batches.end());
  // The full 18-view query pass: the most a query costs per sample (a selection computes fewer views).
  const int64_t views = data::kNumQueryViews;
  int64_t per_query = std::max<int64_t>(1, opt.eval_batch / views);
  int64_t n = std::max({max_batch * std::max(opt.steps, opt.warmup_steps), per_query * opt.steps, int64_t(1)});
  DeviceData all = synthetic_data(n, opt.model, s);
  std::vector<BenchRow> rows;

  for (int64_t b : opt.batches) {
    Trainer tr(*model, bench_recipe(b), s, 1);
    tr.set_execution(opt.execution);
    if (opt.warmup_steps > 0) tr.train_epoch(first(all, b * opt.warmup_steps), 0);
    s.synchronize();
    const WorkCounts k0 = work_counts(s);
    auto t0 = Clock::now();
    const double c0 = process_cpu_seconds();
    tr.train_epoch(first(all, b * opt.steps), 1);  // ends by reading the metrics: synchronised
    s.synchronize();
    BenchRow row{"train", b, b * opt.steps, std::chrono::duration<double>(Clock::now() - t0).count(),
                 process_cpu_seconds() - c0};
    row.work = work_counts(s) - k0;
    rows.push_back(row);
  }

  Trainer tr(*model, bench_recipe(per_query), s, 1);
  std::vector<int64_t> ids(size_t(per_query * opt.steps));
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = int64_t(i);
  auto none = [](int64_t, const Tensor&) {};
  std::vector<int64_t> warm(ids.begin(), ids.begin() + per_query);
  for (int w = 0; w < std::max(opt.warmup_steps, 1); ++w) for_query_blocks(tr, s, all, warm, opt.eval_batch, data::QueryViews::all, none);
  s.synchronize();
  const WorkCounts k0 = work_counts(s);
  auto t0 = Clock::now();
  const double c0 = process_cpu_seconds();
  for_query_blocks(tr, s, all, ids, opt.eval_batch, data::QueryViews::all, none);
  s.synchronize();
  rows.push_back({"query (18 views)", per_query * views, int64_t(ids.size()) * views,
                  std::chrono::duration<double>(Clock::now() - t0).count(), process_cpu_seconds() - c0});
  rows.back().work = work_counts(s) - k0;
  return rows;
}

std::string format_bench_table(const BenchOptions& opt, const std::vector<BenchRow>& rows, const Stream& s) {
  std::unique_ptr<Model> model = make_model(opt.model);
  char buf[256];
  std::string out;
  const bool graphs = s.is_cuda() && opt.execution.cuda_graphs != CudaGraphMode::off;
  std::snprintf(buf, sizeof buf,
                "sp_train bench: %s width %lld (%lld parameters), device %s, f32%s, precision %s, layout %s%s%s\n",
                opt.model.name.c_str(), (long long)opt.model.width, (long long)model->params().numel(),
                s.device().str().c_str(), s.is_cuda() ? (s.allow_tf32 ? " (TF32 on)" : " (TF32 off)") : "",
                precision_name(resolve_precision(opt.precision, s)), activation_layout_name(opt.model.layout),
                graphs ? ", training steps as CUDA graphs" : "",
                models::fuse_norm_epilogue() ? "" : ", norms unfused (SP_FUSED_NORM=0)");
  out += buf;
  if (!s.is_cuda()) out += "cpu kernels: " + cpu::describe_cpu_kernels() + "\n";
  std::snprintf(buf, sizeof buf, "%-18s %8s %10s %12s %12s %14s %14s%s\n", "phase", "batch", "images", "img/s",
                "ms/batch", "cpu ms/batch", "kernels/batch", s.is_cuda() ? " launches/batch" : "");
  out += buf;
  for (const BenchRow& r : rows) {
    double steps = double(r.images) / double(r.batch);
    char launches[32] = "";
    if (s.is_cuda()) std::snprintf(launches, sizeof launches, " %14.1f", double(r.work.launches) / steps);
    std::snprintf(buf, sizeof buf, "%-18s %8lld %10lld %12.1f %12.2f %14.2f %14.1f%s\n", r.phase.c_str(),
                  (long long)r.batch, (long long)r.images, r.images_per_s(), 1e3 * r.seconds / steps,
                  1e3 * r.cpu_seconds / steps, double(r.work.dispatches) / steps, launches);
    out += buf;
  }
  // What the counts are: one kernel per op pass dispatched through the registry (kernels/registry.h; a
  // replayed CUDA graph dispatches none), and the kernels of ours those dispatches launched on the GPU
  // (cuBLAS/cuDNN routines are dispatches, not launches).
  return out;
}

}  // namespace sp
