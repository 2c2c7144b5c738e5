// Epoch checkpoints of a Trainer: the flat parameters, the buffers (BN running statistics), the optimiser
// state (step count, momentum / Adam moments), the number of epochs done and the per-epoch statistics so
// far, in one safetensors file written atomically after every epoch. Restoring one into a fresh Trainer
// built from the same model, recipe and seed continues the run exactly (the Trainer's epoch order and
// augmentations depend only on (seed, epoch)), so a killed run finishes with the same bytes as an
// uninterrupted one. `tag` (e.g. "shadow 3 seed 123") is stored and must match on load, so a checkpoint is
// never applied to another model. Tested in tests/test_sp_train.cpp (round trip, mismatches, and the
// kill -9 resume of sp_train).
#pragma once
#include <map>
#include <string>
#include <vector>

#include "paradigms/engine/train_loop.h"

namespace sp {

struct TrainState {
  int epochs_done = 0;
  std::vector<EpochStats> history;  // one entry per epoch done
};

// `extra`: further tensors of a paradigm's own state (e.g. the DP-SGD parameter EMA), stored under their names.
void save_train_state(const std::string& path, Trainer& tr, const TrainState& st, const std::string& tag, Stream& s,
                      const std::map<std::string, Tensor>& extra = {});
// Restores the trainer from `path` and returns its progress; throws naming the file when it does not belong
// to this trainer (other tag, parameter count, optimiser) or is corrupt.
TrainState load_train_state(const std::string& path, Trainer& tr, const std::string& tag, Stream& s);

}  // namespace sp
