// sp_demo: a small end-to-end training run that needs no download, the README's first command until the
// full pipeline (sp_audit) exists. It trains a width-reduced ResNet-18 on the built-in shapes10 dataset with
// the shared training loop (augmentation, Nesterov SGD, warm-up + cosine schedule) on the GPU when one is
// present, else on the CPU, and prints per-epoch loss/accuracy, throughput and the final test accuracy.
// Exercised by tests/test_sp_demo.cpp (a shrunken run).
#include <CLI/CLI.hpp>
#include <cstdio>

#include "data/procedural.h"
#include "paradigms/train_loop.h"

using namespace sp;

int main(int argc, char** argv) {
  CLI::App app{"synpriv demo: train a small ResNet-18 on the built-in shapes10 dataset"};
  int epochs = 8, width = 8;
  int64_t n_train = 4000, n_test = 1000, batch = 128;
  uint64_t seed = 1;
  double lr = 0.1;
  std::string device = "auto";
  bool no_augment = false;
  app.add_option("--epochs", epochs, "training epochs")->check(CLI::Range(1, 1000));
  app.add_option("--width", width, "ResNet-18 base width (64 = the full model)")->check(CLI::Range(1, 256));
  app.add_option("--train", n_train, "training images")->check(CLI::Range(int64_t(10), int64_t(1000000)));
  app.add_option("--test", n_test, "test images")->check(CLI::Range(int64_t(10), int64_t(1000000)));
  app.add_option("--batch", batch, "batch size")->check(CLI::Range(int64_t(1), int64_t(65536)));
  app.add_option("--lr", lr, "peak learning rate")->check(CLI::PositiveNumber);
  app.add_option("--seed", seed, "seed for data, initialisation and order");
  app.add_option("--device", device, "auto, cpu or cuda")->check(CLI::IsMember({"auto", "cpu", "cuda"}));
  app.add_flag("--no-augment", no_augment, "train without random crop and flip");
  CLI11_PARSE(app, argc, argv);

  try {
    std::string why;
    bool gpu = device == "cuda" || (device == "auto" && cuda_available(&why));
    Stream& s = gpu ? Stream::cuda_default(0) : Stream::cpu();
    std::printf("synpriv demo: ResNet-18 (width %d) on shapes10 (%lld train / %lld test), %d epochs, device %s%s\n",
                width, (long long)n_train, (long long)n_test, epochs, s.device().str().c_str(),
                (!gpu && device == "auto") ? (" (" + why + ")").c_str() : "");
    auto splits = data::make_shapes10_splits(n_train, n_test, seed);
    DeviceData train = DeviceData::upload(splits.train, s), test = DeviceData::upload(splits.test, s);

    ModelConfig mc;
    mc.name = "resnet18";
    mc.width = width;
    mc.num_classes = splits.train.num_classes();
    auto model = make_model(mc);
    TrainRecipe r;
    r.epochs = epochs;
    r.batch_size = batch;
    r.augment = !no_augment;
    r.optim.kind = OptimKind::sgd;
    r.optim.momentum = 0.9;
    r.optim.nesterov = true;
    r.optim.weight_decay = 5e-4;
    r.schedule.kind = ScheduleKind::warmup_cosine;
    r.schedule.base_lr = lr;
    r.schedule.warmup_steps = epochs > 1 ? (n_train + batch - 1) / batch : 0;  // one epoch
    Trainer tr(*model, r, s, seed);
    std::printf("%lld parameters\n", (long long)model->params().numel());

    double total = 0;
    for (int e = 0; e < epochs; ++e) {
      EpochStats st = tr.train_epoch(train, e, [](const TrainProgress& p) {
        if (p.step < p.steps)
          std::printf("  epoch %d/%d step %lld/%lld loss %.4f acc %.3f  %.0f img/s  ETA %.0f s\n", p.epoch + 1,
                      p.epochs, (long long)p.step, (long long)p.steps, p.loss, p.accuracy, p.images_per_s, p.eta_s);
      }, 5.0);
      total += st.seconds;
      std::printf("epoch %d/%d  loss %.4f  train acc %.3f  %.1f s  %.0f img/s\n", e + 1, epochs, st.loss, st.accuracy,
                  st.seconds, st.images_per_s);
      std::fflush(stdout);
    }
    double acc = tr.evaluate(test);
    std::printf("test accuracy %.4f after %.1f s of training\n", acc, total);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sp_demo: error: %s\n", e.what());
    return 1;
  }
}
