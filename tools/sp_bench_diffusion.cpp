// sp_bench_diffusion: the cost of the diffusion paradigm's two heavy phases (paradigms/diffusion/) for UNets of
// the given widths: UNet training (paradigms/diffusion/unet_trainer.h: one Adam step with clip and EMA on a batch,
// images/s) and guided DDIM generation (generation.h: SDEdit at strength 0.75, or class-conditional from noise,
// images/s; each image costs 2 x the DDIM steps run UNet evaluations with guidance). Images are procedural shapes10
// pixels; the cost does not depend on the content.
// Usage: sp_bench_diffusion [--device cpu|cuda] [--ch 16,64] [--ch-mult 1,2,2] [--blocks 1] [--batch B]
//        [--sample-batch B] [--ddim-steps S] [--reps R] [--ddpm]. --ddpm adds DDPM's 35.7 M configuration.
// Times: the median of --reps repetitions after one untimed one.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "data/procedural.h"
#include "kernels/cpu/blas_setup.h"
#include "kernels/error.h"
#include "paradigms/audit/exit_status.h"
#include "paradigms/cli_args.h"
#include "paradigms/diffusion/generation.h"
#include "paradigms/diffusion/unet_trainer.h"

using namespace sp;

namespace {

struct Options {
  std::string device = "cpu";
  std::vector<int64_t> ch{16, 64}, ch_mult{1, 2, 2};
  int64_t blocks = 1, batch = 32, sample_batch = 32, ddim_steps = 25;
  int reps = 3;
  bool ddpm = false;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

template <class F>
double seconds(Stream& s, F&& f) {
  s.synchronize();
  const auto t0 = std::chrono::steady_clock::now();
  f();
  s.synchronize();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void bench(Stream& s, const Options& o, const DeviceData& d, const models::UNetConfig& u, const std::string& label) {
  auto unet = models::make_ddpm_unet(u);
  const diffusion::NoiseSchedule ns = diffusion::NoiseSchedule::linear(1000);
  diffusion::TrainConfig tc;
  tc.batch = o.batch;
  tc.warmup = 10;
  diffusion::UNetTrainer tr(*unet, tc, ns, d, 1, s);
  std::vector<double> train;
  for (int r = 0; r <= o.reps; ++r) {
    const double t = seconds(s, [&] { tr.step(); });
    if (r > 0) train.push_back(t);
  }
  diffusion::DiffusionConfig c;
  c.sample.steps = o.ddim_steps;
  c.sample.guidance = 1.0;
  c.sample.null_label = 10;
  std::vector<int64_t> labels(static_cast<size_t>(d.size()));
  for (size_t i = 0; i < labels.size(); ++i) labels[i] = d.host_labels[i];
  double sd_s = 0, cls_s = 0;
  for (diffusion::Mode m : {diffusion::Mode::img2img, diffusion::Mode::class_conditional}) {
    c.mode = m;
    c.per_class = (o.sample_batch + 9) / 10;
    diffusion::GenerationPlan plan = diffusion::plan_generation(c, labels, 10);
    const int64_t n = std::min(o.sample_batch, plan.size());
    std::vector<double> v;
    for (int r = 0; r <= std::min(o.reps, 2); ++r) {
      const double t = seconds(s, [&] { diffusion::generate_rows(s, *unet, tr.ema(), ns, c, plan, d, 0, n, 7); });
      if (r > 0) v.push_back(t / double(n));
    }
    (m == diffusion::Mode::img2img ? sd_s : cls_s) = median(v);
  }
  std::printf("%-22s %6.2f M  train %8.1f img/s (batch %lld)   SDEdit s=0.75 %7.2f img/s   class %7.2f img/s  "
              "(DDIM %lld steps, guided)\n",
              label.c_str(), double(unet->params().numel()) / 1e6, double(o.batch) / median(train), (long long)o.batch,
              1.0 / sd_s, 1.0 / cls_s, (long long)o.ddim_steps);
}

}  // namespace

int main(int argc, char** argv) {
  sp::cpu::ensure_fast_blas(argv);
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  Options o;
  CLI::App app{"Cost of DDPM UNet training and guided DDIM generation"};
  app.add_option("--device", o.device, "cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}));
  app.add_option("--ch", o.ch, "UNet base widths to time")->delimiter(',')->check(CLI::Range(4, 4096));
  app.add_option("--ch-mult", o.ch_mult, "channel multipliers per level")->delimiter(',')->check(CLI::Range(1, 16));
  app.add_option("--blocks", o.blocks, "residual blocks per level")->check(CLI::Range(1, 8));
  app.add_option("--batch", o.batch, "training batch")->check(CLI::Range(1, 100000));
  app.add_option("--sample-batch", o.sample_batch, "images per generation chunk")->check(CLI::Range(1, 100000));
  app.add_option("--ddim-steps", o.ddim_steps, "DDIM steps")->check(CLI::Range(1, 1000));
  app.add_option("--reps", o.reps, "timed repetitions")->check(CLI::Range(1, 1000));
  app.add_flag("--ddpm", o.ddpm, "also time DDPM's 35.7 M CIFAR-10 UNet");
  SP_CLI_PARSE(app, argc, argv);
  try {
    Stream* s = &pick_device(o.device);
    DeviceData d = DeviceData::upload(data::make_shapes10(std::max<int64_t>(o.batch, o.sample_batch), 3, "train"), *s);
    std::printf("sp_bench_diffusion on %s: 32x32 RGB, 10 classes, T = 1000\n", s->device().str().c_str());
    for (int64_t ch : o.ch) {
      models::UNetConfig u;
      u.ch = ch;
      u.ch_mult = o.ch_mult;
      u.num_res_blocks = o.blocks;
      u.norm_groups = std::min<int64_t>(32, ch / 2);
      u.dropout = 0.1;
      char label[64];
      std::snprintf(label, sizeof label, "ch %lld, %lld block%s", (long long)ch, (long long)o.blocks, o.blocks > 1 ? "s" : "");
      bench(*s, o, d, u, label);
    }
    if (o.ddpm) bench(*s, o, d, models::UNetConfig::ddpm_cifar10(), "DDPM CIFAR-10");
  } catch (const Error& e) {
    std::fprintf(stderr, "sp_bench_diffusion: %s\n", e.what());
    return 1;
  }
  return 0;
}
