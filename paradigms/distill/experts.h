// Expert trajectories of one shadow model (shared/reference/round2-methods.md §4.1, §5.1): `count` networks
// (the distillation net, ConvNet-3 by default) trained `epochs` epochs on the shadow's own private set D_k
// in the model-input space (ZCA-whitened when on), SGD or GSAM (DATM's flat trajectories), per-sample DSA,
// with the flat parameters after initialisation and after every epoch kept as a [epochs + 1, P] snapshot
// tensor in f32 or f16.
// Files: DIR/experts/expert_NNN.safetensors, one per expert, each written atomically when its training ends,
// so a killed run resumes expert by expert. Each records what made it (shadow, the ZCA fit's digest, the
// private set's digest, every training setting, the seed) and the SHA-256 of its snapshot bytes; a file
// made by another shadow, another ZCA, other settings, or with damaged bytes is refused with the reason.
// Expert i is a pure function of (key, i). Tested in tests/test_distill_trajectory.cpp.
#pragma once
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "nn/model.h"
#include "paradigms/distill/distill_config.h"

namespace sp::distill {

struct ExpertContext {
  const DistillConfig* cfg = nullptr;
  std::string shadow_dir;       // DIR/shadow/<k>
  int shadow = 0;
  std::string zca_digest;       // "none" without ZCA
  std::string private_digest;   // private_set_digest(D_k)
  uint64_t key = 0;             // the experts' seed
  int64_t params = 0;           // P of cfg->net
};

std::string expert_path(const std::string& shadow_dir, int64_t expert);
// Bytes one expert file holds (snapshots only), for the storage estimate.
int64_t expert_bytes(const DistillConfig& c, int64_t params);

// What identifies expert i (the file's metadata besides its digest).
std::map<std::string, std::string> expert_identity(const ExpertContext& ctx, int64_t expert);

// Trains every expert whose file is missing. x: f32 [n, C, H, W] in the model-input space, y: i64 [n], both
// on s's device. log: progress lines, at most one per line_every seconds plus one per expert.
void train_experts(const ExpertContext& ctx, const Tensor& x, const Tensor& y, Stream& s,
                   const std::function<void(const std::string&)>& log, double line_every);

// Every expert's snapshots [epochs + 1, P] in the storage dtype on the CPU, each file checked in full
// (identity and digest).
std::vector<Tensor> load_experts(const ExpertContext& ctx);

// The files present, checked from their headers only (identity, shapes, file length): no data is read.
void check_expert_files(const ExpertContext& ctx);

}  // namespace sp::distill
