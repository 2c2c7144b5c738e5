// The small model whose files the safetensors fuzz target loads and make_seeds.cpp writes: ConvNet-3 of width 4
// (a few thousand parameters, so seeds stay a few tens of kilobytes), with a Trainer for its epoch checkpoints.
#pragma once
#include <memory>

#include "nn/model.h"
#include "paradigms/engine/train_loop.h"

namespace sp::fuzz {

struct SmallModel {
  std::unique_ptr<Model> model;
  std::unique_ptr<Trainer> trainer;

  SmallModel() {
    ModelConfig c;
    c.name = "convnet3";
    c.width = 4;
    model = make_model(c);
    TrainRecipe r;
    r.optim.momentum = 0.9;  // a momentum buffer in the checkpoint
    trainer = std::make_unique<Trainer>(*model, r, Stream::cpu(), 7);
  }
};

inline constexpr const char* kCheckpointTag = "fuzz shadow 0 seed 7";

}  // namespace sp::fuzz
