// The teachers of data-free distillation: teacher k is shadow k of a teacher experiment trained on the same
// private set D_k (its canaries included) with the same audit set and membership. The experiment is either
// the one dfkd.teacher.experiment names or OUT/teacher, a baseline experiment created with the teacher's model
// and recipe (dfkd_config.h). A teacher that is not there yet is trained first, in that experiment, exactly
// as its paradigm trains shadow k (paradigms/engine/shadow_train.h), so `sp_lira` attacks the teachers too.
// Tested in tests/test_dfkd_shadow.cpp (teachers reused and trained; every refusal below).
#pragma once
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "nn/model.h"
#include "paradigms/dfkd/dfkd_config.h"
#include "paradigms/engine/experiment_run.h"
#include "paradigms/engine/progress.h"

namespace sp::dfkd {

struct TeacherExperiment {
  std::string dir;  // absolute
  RunConfig cfg;
  bool owned = false;  // OUT/teacher, created by this experiment
};

// Where the teachers of the experiment in `dir` live and how they are configured. Throws sp::Error naming the
// directory when dfkd.teacher.experiment does not exist or holds no readable config.json.
TeacherExperiment teacher_experiment(const RunConfig& student, const DfkdConfig& c, const std::string& dir);

// Every check that can fail before work starts: the teacher experiment exists (when named), is not itself a
// DFKD experiment, has the student's class count and BatchNorm layers (the synthesis loss needs them), the same
// audit samples and membership as `run`, and every teacher model already there is of its architecture.
void check_teachers(const ExperimentRun& run, const DfkdConfig& c);

struct Teacher {
  std::unique_ptr<Model> model;
  Tensor theta, buffers;      // on the stream's device
  std::string path;           // its model.safetensors
  nlohmann::json metrics;     // its metrics.json
  double train_seconds = 0;   // spent training it now (0: it existed)
};

// Teacher k, trained first when its experiment does not have it yet.
Teacher obtain_teacher(const ExperimentRun& run, const DfkdConfig& c, int k, Stream& s, ProgressPrinter* progress);

}  // namespace sp::dfkd
