// Expert trajectories: training, files and checks (see experts.h).
#include "paradigms/distill/experts.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "data/sha256.h"
#include "kernels/counter_rng.h"
#include "kernels/error.h"
#include "nn/gsam.h"
#include "nn/ops_loss.h"
#include "nn/optim.h"
#include "nn/safetensors.h"
#include "paradigms/distill/augmented_source.h"
#include "paradigms/engine/progress.h"

namespace fs = std::filesystem;

namespace sp::distill {

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

constexpr uint64_t kPurposeInit = 0x455850494e4954ULL;   // "EXPINIT"
constexpr uint64_t kPurposeOrder = 0x4558504f5244ULL;    // "EXPORD": epoch orders and augmentations

std::string number(double v) {
  char b[64];
  std::snprintf(b, sizeof b, "%.17g", v);
  return b;
}

std::string digest_of(const Tensor& t) {
  Tensor c = t.contiguous();
  return data::sha256_hex(std::string_view(static_cast<const char*>(c.raw_data()), size_t(c.numel()) * dtype_size(c.dtype())));
}

// The identity fields that differ in a file, as "field: file's value, expected value" (empty: none).
std::string mismatch(const std::map<std::string, std::string>& got, const std::map<std::string, std::string>& want) {
  for (const auto& [k, v] : want) {
    auto it = got.find(k);
    const std::string have = it == got.end() ? "missing" : it->second;
    if (have == v) continue;
    if (k == "shadow") return "made for shadow " + have + ", not shadow " + v;
    if (k == "zca") return "made with another ZCA fit (" + have.substr(0, 12) + ", this shadow's zca.safetensors is " + v.substr(0, 12) + ")";
    if (k == "private_set") return "made from another private set (another experiment or shadow)";
    return "made with " + k + " " + have + ", the configuration gives " + v;
  }
  return "";
}

void check_header(const ExpertContext& ctx, int64_t i, const TensorFile& f) {
  const std::string path = expert_path(ctx.shadow_dir, i);
  const std::string why = mismatch(f.metadata, expert_identity(ctx, i));
  SP_CHECK(why.empty(), path, ": ", why, "; remove the experts/ folder of this shadow to train its experts again");
  SP_CHECK(f.metadata.count("sha256"), path, ": no sha256 in its metadata (not an expert file?)");
  const ExpertConfig& x = ctx.cfg->experts;
  auto it = f.shapes.find("trajectory");
  DType dt = DType::f32;
  Shape shape;
  if (it != f.shapes.end()) {
    dt = it->second.first, shape = it->second.second;
  } else {
    SP_CHECK(f.contains("trajectory"), path, ": no 'trajectory' tensor");
    dt = f.at("trajectory").dtype(), shape = f.at("trajectory").shape();
  }
  SP_CHECK(dt == x.storage && shape == Shape({x.epochs + 1, ctx.params}), path, ": trajectory ", dtype_name(dt), shape,
           " is not ", dtype_name(x.storage), Shape({x.epochs + 1, ctx.params}), " (epochs + 1 snapshots of ", ctx.params,
           " parameters)");
}

}  // namespace

std::string expert_path(const std::string& shadow_dir, int64_t expert) {
  char name[64];
  std::snprintf(name, sizeof name, "/experts/expert_%03lld.safetensors", (long long)expert);
  return shadow_dir + name;
}

int64_t expert_bytes(const DistillConfig& c, int64_t params) {
  return (c.experts.epochs + 1) * params * int64_t(dtype_size(c.experts.storage));
}

std::map<std::string, std::string> expert_identity(const ExpertContext& ctx, int64_t expert) {
  const DistillConfig& c = *ctx.cfg;
  const ExpertConfig& x = c.experts;
  std::map<std::string, std::string> m = {
      {"kind", "synpriv expert trajectory"},
      {"shadow", std::to_string(ctx.shadow)},
      {"expert", std::to_string(expert)},
      {"zca", ctx.zca_digest},
      {"private_set", ctx.private_digest},
      {"net", c.net.name + " width " + std::to_string(c.net.width)},
      {"epochs", std::to_string(x.epochs)},
      {"lr", number(x.lr)},
      {"momentum", number(x.momentum)},
      {"weight_decay", number(x.weight_decay)},
      {"batch", std::to_string(x.batch)},
      {"optimizer", x.gsam ? "gsam rho " + number(x.rho) + " alpha " + number(x.alpha) + (x.adaptive ? " adaptive" : "")
                           : "sgd"},
      {"augment", x.augment ? c.dsa_strategy : "none"},
      {"storage", std::string(dtype_name(x.storage))},
      {"key", std::to_string(ctx.key)}};
  return m;
}

void train_experts(const ExpertContext& ctx, const Tensor& x, const Tensor& y, Stream& s,
                   const std::function<void(const std::string&)>& log, double line_every) {
  const DistillConfig& c = *ctx.cfg;
  const ExpertConfig& xc = c.experts;
  std::unique_ptr<Model> net = make_model(c.net);
  SP_CHECK(net->params().numel() == ctx.params, "train_experts: the net has ", net->params().numel(), " parameters, not ",
           ctx.params);
  fs::create_directories(ctx.shadow_dir + "/experts");
  const std::string who = "shadow " + std::to_string(ctx.shadow);
  const int64_t n = x.size(0), B = xc.batch;
  std::vector<dsa::Group> strategy = xc.augment ? c.strategy : std::vector<dsa::Group>{};
  auto last_line = Clock::now();
  for (int64_t i = 0; i < xc.count; ++i) {
    const std::string path = expert_path(ctx.shadow_dir, i);
    if (fs::exists(path)) {
      check_header(ctx, i, read_safetensors_header(path));
      continue;
    }
    const auto t0 = Clock::now();
    const uint64_t ekey = crng::derive_key(ctx.key, uint64_t(i));
    Tensor theta = Tensor::empty({ctx.params}, DType::f32, s);
    Tensor buffers = Tensor::zeros({net->buffers().numel()}, DType::f32, s);
    net->init(s, theta, buffers, crng::derive_key(ekey, kPurposeInit));
    OptimConfig oc;
    oc.kind = OptimKind::sgd;
    oc.momentum = xc.momentum;
    oc.weight_decay = xc.weight_decay;
    std::unique_ptr<Optimizer> opt = make_optimizer(oc, theta, s);
    Tensor traj = Tensor::empty({xc.epochs + 1, ctx.params}, DType::f32, s);
    traj.narrow(0, 0, 1).view({ctx.params}).copy_(theta, s);
    DsaImageSource source(s, x, y, crng::derive_key(ekey, kPurposeOrder), strategy);
    double loss_sum = 0;
    int64_t steps = 0;
    for (int64_t e = 0; e < xc.epochs; ++e) {
      source.begin_epoch(s, int(e));
      for (int64_t lo = 0; lo < n; lo += B) {
        Batch b = source.batch(s, int(e), lo, std::min(n, lo + B));
        auto grad_at = [&](const Tensor& w, double* loss) {
          Tape t(s);
          Var th = t.leaf(w, true);
          Var l = ag::cross_entropy(t, net->forward(t, th, buffers, t.leaf(b.x), true), b.labels);
          Tensor g = t.grad(l, {th})[0];
          if (loss) *loss = t.value(l).to(DType::f64, s).to_vector<double>(s)[0];
          return g;
        };
        double loss = 0;
        if (xc.gsam) {
          GsamConfig gc;
          gc.rho = xc.rho, gc.alpha = xc.alpha, gc.adaptive = xc.adaptive;
          loss = gsam_step(s, *opt, theta, xc.lr, gc, grad_at);
        } else {
          Tensor g = grad_at(theta, &loss);
          opt->step(s, theta, g, xc.lr);
        }
        SP_CHECK(std::isfinite(loss), who, " expert ", i, ": the training loss became ", loss, " in epoch ", e,
                 " (lower distill.experts.lr)");
        loss_sum += loss, ++steps;
      }
      traj.narrow(0, e + 1, 1).view({ctx.params}).copy_(theta, s);
      if (since(last_line) >= line_every) {
        char line[200];
        std::snprintf(line, sizeof line, "%s expert %lld/%lld epoch %lld/%lld  loss %.4f", who.c_str(), (long long)(i + 1),
                      (long long)xc.count, (long long)(e + 1), (long long)xc.epochs, loss_sum / double(steps));
        log(line);
        last_line = Clock::now();
      }
    }
    Tensor stored = traj.to(Device::cpu(), s).to(xc.storage);
    std::map<std::string, std::string> meta = expert_identity(ctx, i);
    meta["sha256"] = digest_of(stored);
    meta["final_loss"] = number(loss_sum / double(std::max<int64_t>(steps, 1)));
    meta["seconds"] = number(since(t0));
    save_safetensors(path, {{"trajectory", stored}}, meta);
    char line[200];
    std::snprintf(line, sizeof line, "%s expert %lld/%lld trained in %s (%lld epochs, %s, %s snapshots)", who.c_str(),
                  (long long)(i + 1), (long long)xc.count, format_duration(since(t0)).c_str(), (long long)xc.epochs,
                  xc.gsam ? "GSAM" : "SGD", dtype_name(xc.storage).data());
    log(line);
    last_line = Clock::now();
  }
}

std::vector<Tensor> load_experts(const ExpertContext& ctx) {
  std::vector<Tensor> out;
  for (int64_t i = 0; i < ctx.cfg->experts.count; ++i) {
    const std::string path = expert_path(ctx.shadow_dir, i);
    SP_CHECK(fs::exists(path), path, ": missing (the experts are trained before distilling)");
    TensorFile f = load_safetensors(path);
    check_header(ctx, i, f);
    const Tensor& t = f.at("trajectory");
    SP_CHECK(digest_of(t) == f.metadata.at("sha256"), path, ": its snapshot bytes do not match their recorded SHA-256 "
             "(a damaged file); remove it to train this expert again");
    std::vector<double> probe = t.narrow(0, t.size(0) - 1, 1).to(DType::f64).to_vector<double>();
    for (double v : probe) SP_CHECK(std::isfinite(v), path, ": non-finite parameters in its last snapshot");
    out.push_back(t);
  }
  return out;
}

void check_expert_files(const ExpertContext& ctx) {
  for (int64_t i = 0; i < ctx.cfg->experts.count; ++i) {
    const std::string path = expert_path(ctx.shadow_dir, i);
    if (fs::exists(path)) check_header(ctx, i, read_safetensors_header(path));
  }
}

}  // namespace sp::distill
