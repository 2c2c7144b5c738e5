// sp_data: look at, time and export the data sources, and create experiment directories.
//   sp_data preview --dataset shapes10 --out grid.png [--split test] [--per-class 10] [--scale 3]
//   sp_data bench   --dataset cifar10:<dir>      full load (or generation) time and size
//   sp_data export  --dataset shapes10:train=50000 --out dir   writes cifar-10-batches-bin style batches
//                                                             (train as data_batch_1.bin, test_batch.bin)
//   sp_data init-experiment --dataset cifar10:<dir> --out exp [--seed 0] [--audit 500] [--models 32]
//                           [--canary mislabel|clean]      audit samples, canaries and membership (data/experiment.h)
// Exit status 1 with the error on bad input. Covered by the data tests it calls into.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>

#include "data/cifar_binary.h"
#include "data/experiment.h"
#include "data/sample_grid.h"
#include "data/sources.h"
#include "paradigms/audit/exit_status.h"

using namespace sp;
using namespace sp::data;

int main(int argc, char** argv) {
  CLI::App app{"synpriv data sources: preview, bench, export"};
  app.require_subcommand(1);
  std::string spec = "shapes10", out, split = "train";
  int per_class = 10, scale = 3;
  auto* preview = app.add_subcommand("preview", "PNG grid of samples, one row per class");
  preview->add_option("--dataset", spec, "dataset spec (see data/sources.h)");
  preview->add_option("--out", out, "PNG path")->required();
  preview->add_option("--split", split, "train or test")->check(CLI::IsMember({"train", "test"}));
  preview->add_option("--per-class", per_class, "images per class")->check(CLI::Range(1, 64));
  preview->add_option("--scale", scale, "upscaling factor")->check(CLI::Range(1, 16));
  auto* bench = app.add_subcommand("bench", "time a full load or generation");
  bench->add_option("--dataset", spec, "dataset spec")->required();
  auto* exp = app.add_subcommand("export", "write CIFAR-10 binary batches");
  exp->add_option("--dataset", spec, "dataset spec")->required();
  exp->add_option("--out", out, "output folder")->required();
  uint64_t seed = 0;
  int64_t audit = 500;
  int models = 32;
  std::string canary = "mislabel";
  auto* init = app.add_subcommand("init-experiment", "create (or check) an experiment directory");
  init->add_option("--dataset", spec, "dataset spec")->required();
  init->add_option("--out", out, "experiment directory")->required();
  init->add_option("--seed", seed, "experiment seed");
  init->add_option("--audit", audit, "number of audit samples")->check(CLI::PositiveNumber);
  init->add_option("--models", models, "number of shadow models (even)")->check(CLI::PositiveNumber);
  init->add_option("--canary", canary, "canary type")->check(CLI::IsMember({"mislabel", "clean"}));
  SP_CLI_PARSE(app, argc, argv);
  try {
    auto t0 = std::chrono::steady_clock::now();
    DatasetSplits s = load_dataset(spec);
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (*preview) {
      save_sample_grid(out, split == "train" ? s.train : s.test, per_class, scale);
      std::printf("wrote %s (%s, %lld images)\n", out.c_str(), (split == "train" ? s.train : s.test).name.c_str(),
                  (long long)(split == "train" ? s.train : s.test).size());
    } else if (*bench) {
      int64_t n = s.train.size() + s.test.size();
      std::printf("%s: %lld train + %lld test images in %.3f s (%.0f images/s, %.1f MB)\n", spec.c_str(),
                  (long long)s.train.size(), (long long)s.test.size(), secs, double(n) / secs,
                  double(s.train.images.nbytes() + s.test.images.nbytes()) / 1e6);
    } else if (*init) {
      std::string canonical = parse_dataset_spec(spec).str();
      ExperimentConfig cfg = make_experiment_config(canonical, s.train, seed, audit, models, parse_canary(canary));
      Experiment e = create_or_open_experiment(out, cfg, s.train.labels.to_vector<int64_t>());
      std::printf("experiment %s: %lld audit samples (%s) of %lld, %d shadow models, seed %llu\n", e.dir.c_str(),
                  (long long)e.audit.size(), canary_name(cfg.canary).c_str(), (long long)cfg.train_size,
                  cfg.num_models, (unsigned long long)cfg.seed);
    } else {
      std::filesystem::create_directories(out);
      write_cifar10_batch(out + "/data_batch_1.bin", s.train);
      write_cifar10_batch(out + "/test_batch.bin", s.test);
      std::string meta;
      for (const auto& c : s.train.classes) meta += c + "\n";
      FILE* f = std::fopen((out + "/batches.meta.txt").c_str(), "w");
      if (!f || std::fputs(meta.c_str(), f) < 0 || std::fclose(f) != 0) throw Error("cannot write " + out + "/batches.meta.txt");
      std::printf("wrote %s: %lld train, %lld test\n", out.c_str(), (long long)s.train.size(), (long long)s.test.size());
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sp_data: %s\n", e.what());
    return 1;
  }
  return 0;
}
