// The DP-SGD step benchmark (see dp_bench.h).
#include "paradigms/dpsgd/dp_bench.h"

#include <chrono>
#include <cstdio>

#include "paradigms/dpsgd/dp_trainer.h"
#include "paradigms/engine/train_bench.h"

namespace sp::dpsgd {

namespace {

using Clock = std::chrono::steady_clock;

// Plain SGD (the DP-SGD recipe's optimiser) at a small learning rate, so the weights stay sane while timing.
TrainRecipe plain_recipe(int64_t batch) {
  TrainRecipe r;
  r.epochs = 1;
  r.batch_size = batch;
  r.schedule.base_lr = 0.01;
  r.drop_last = true;
  return r;
}

template <class F>
double time_ms_per_step(Stream& s, int steps, F&& run) {
  s.synchronize();
  auto t0 = Clock::now();
  run();
  s.synchronize();
  return 1e3 * std::chrono::duration<double>(Clock::now() - t0).count() / double(steps);
}

}  // namespace

DpBenchResult run_dpsgd_bench(const DpBenchOptions& opt, Stream& s) {
  SP_CHECK(opt.batch >= 1 && opt.steps >= 1 && opt.warmup_steps >= 0 && opt.augmult >= 1,
           "bench-dpsgd: needs batch >= 1, steps >= 1, augmult >= 1");
  std::unique_ptr<Model> model = make_model(opt.model);
  check_dp_model(*model);
  const int64_t b = opt.batch, images = b * opt.augmult;
  DeviceData warm = bench_synthetic_data(images * std::max(opt.warmup_steps, 1), opt.model, s);
  DeviceData data = bench_synthetic_data(images * opt.steps, opt.model, s);
  DpBenchResult r;

  // The non-private step sees as many images as the DP step (b examples x K copies).
  Trainer plain(*model, plain_recipe(images), s, 1);
  if (opt.warmup_steps > 0) plain.train_epoch(warm, 0);
  r.plain_ms = time_ms_per_step(s, opt.steps, [&] { plain.train_epoch(data, 0); });

  Trainer tr(*model, plain_recipe(b), s, 1);
  DpsgdSettings d;
  d.noise_multiplier = 1.0;
  d.augmult = opt.augmult;
  d.physical_batch = b;
  DpTrainer dp(tr, d, plan_dpsgd(d, data.size(), b, 1), 1, s);  // q = b / data.size(): the plan only needs q <= 1
  auto ids_of = [&](int64_t step) {
    std::vector<int64_t> ids(static_cast<size_t>(b));
    for (int64_t i = 0; i < b; ++i) ids[size_t(i)] = step * b + i;
    return ids;
  };
  for (int w = 0; w < opt.warmup_steps; ++w) dp.step(data, ids_of(w % opt.steps), w);
  r.dp_ms = time_ms_per_step(s, opt.steps, [&] {
    for (int t = 0; t < opt.steps; ++t) dp.step(data, ids_of(t), t);
  });
  return r;
}

std::string format_dpsgd_bench(const DpBenchOptions& opt, const DpBenchResult& r, const Stream& s) {
  std::unique_ptr<Model> model = make_model(opt.model);
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "sp_train --bench-dpsgd: %s width %lld (%lld parameters), device %s, f32%s\n"
                "  batch %lld examples, augmentation multiplicity K = %lld, %d timed steps\n"
                "  non-private step   %10.2f ms  (%lld images, batch gradient)\n"
                "  DP-SGD step        %10.2f ms  (%lld images: per-example grads, clip, noise, update)\n"
                "  ratio DP / non-private: %.2fx\n",
                opt.model.name.c_str(), (long long)opt.model.width, (long long)model->params().numel(),
                s.device().str().c_str(), s.is_cuda() ? (s.allow_tf32 ? " (TF32 on)" : " (TF32 off)") : "",
                (long long)opt.batch, (long long)opt.augmult, opt.steps, r.plain_ms, (long long)(opt.batch * opt.augmult), r.dp_ms,
                (long long)(opt.batch * opt.augmult), r.ratio());
  return buf;
}

}  // namespace sp::dpsgd
