// Epoch checkpoints (see train_state.h).
#include "paradigms/engine/train_state.h"

#include <nlohmann/json.hpp>

#include "data/json_read.h"
#include "nn/safetensors.h"

namespace sp {

namespace {
const std::string kOptimPrefix = "optim/";

nlohmann::json history_json(const std::vector<EpochStats>& h) {
  nlohmann::json a = nlohmann::json::array();
  for (const EpochStats& e : h)
    a.push_back({{"epoch", e.epoch}, {"loss", e.loss}, {"accuracy", e.accuracy}, {"seconds", e.seconds},
                 {"images_per_s", e.images_per_s}});
  return a;
}
}  // namespace

void save_train_state(const std::string& path, Trainer& tr, const TrainState& st, const std::string& tag, Stream& s,
                      const std::map<std::string, Tensor>& extra) {
  std::map<std::string, Tensor> t = tr.optimizer().state(kOptimPrefix);
  t.insert(extra.begin(), extra.end());
  t.emplace("theta", tr.theta());
  if (tr.buffers().numel() > 0) t.emplace("buffers", tr.buffers());
  std::map<std::string, std::string> meta = {{"tag", tag},
                                             {"model", tr.model().config().name},
                                             {"epochs_done", std::to_string(st.epochs_done)},
                                             {"history", history_json(st.history).dump()}};
  save_safetensors(path, t, meta, s);
}

TrainState load_train_state(const std::string& path, Trainer& tr, const std::string& tag, Stream& s) {
  TensorFile f = load_safetensors(path);
  auto meta = [&](const std::string& k) -> const std::string& {
    auto it = f.metadata.find(k);
    SP_CHECK(it != f.metadata.end(), path, ": checkpoint metadata lacks '", k, "'");
    return it->second;
  };
  SP_CHECK(meta("tag") == tag, path, ": checkpoint of '", meta("tag"), "', expected '", tag, "'");
  const Tensor& theta = f.at("theta");
  SP_CHECK(theta.shape() == tr.theta().shape(), path, ": theta is ", theta.str(), ", the model ",
           tr.model().config().name, " has ", tr.theta().numel(), " parameters");
  TrainState st;
  try {
    st.epochs_done = std::stoi(meta("epochs_done"));
    for (const auto& e : data::parse_json_text(meta("history"), path + " (history)")) {
      EpochStats es;
      es.epoch = e.at("epoch").get<int>();
      es.loss = e.at("loss").get<double>();
      es.accuracy = e.at("accuracy").get<double>();
      es.seconds = e.at("seconds").get<double>();
      es.images_per_s = e.at("images_per_s").get<double>();
      st.history.push_back(es);
    }
  } catch (const std::exception& e) {
    SP_FAIL(path, ": bad checkpoint metadata (", e.what(), ")");
  }
  SP_CHECK(st.epochs_done >= 0 && st.epochs_done <= tr.recipe().epochs && int(st.history.size()) == st.epochs_done,
           path, ": checkpoint claims ", st.epochs_done, " epochs (", st.history.size(), " logged) of ",
           tr.recipe().epochs);
  // A step graph captured before holds no state the checkpoint replaces (its inputs are refilled every
  // step), but a resumed run starts it afresh, as an uninterrupted one would have at this point.
  tr.invalidate_step_graph("resumed from a checkpoint");
  tr.theta().copy_(theta, s);
  if (tr.buffers().numel() > 0) {
    const Tensor& b = f.at("buffers");
    SP_CHECK(b.shape() == tr.buffers().shape(), path, ": buffers are ", b.str(), ", expected ",
             tr.buffers().numel());
    tr.buffers().copy_(b, s);
  }
  try {
    tr.optimizer().load_state(f.tensors, kOptimPrefix, s);
  } catch (const Error& e) {
    throw Error(path + ": " + e.what());
  }
  return st;
}

}  // namespace sp
