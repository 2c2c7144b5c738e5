// Model files as PyTorch state_dicts (see model_file.h).
#include "paradigms/engine/model_file.h"

#include <set>

#include "nn/safetensors.h"

namespace sp {

namespace {
const std::string kRunningMean = ".running_mean";

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}
}  // namespace

void save_model(const std::string& path, const Model& m, const Tensor& theta, const Tensor& buffers, int64_t steps,
                std::map<std::string, std::string> metadata, Stream& s) {
  std::map<std::string, Tensor> t = m.params().named(theta);
  if (m.buffers().numel() > 0) {
    for (auto& [name, v] : m.buffers().named(buffers)) t.emplace(name, v);
    for (const ParamSpec& b : m.buffers().specs())
      if (ends_with(b.name, kRunningMean))
        t.emplace(b.name.substr(0, b.name.size() - kRunningMean.size()) + ".num_batches_tracked",
                  Tensor::from_vector<int64_t>({steps}, {}));
  }
  const ModelConfig& c = m.config();
  metadata.emplace("format", "pt");
  metadata.emplace("model", c.name);
  metadata.emplace("width", std::to_string(c.width));
  metadata.emplace("num_classes", std::to_string(c.num_classes));
  save_safetensors(path, t, metadata, s);
}

void load_model(const std::string& path, const Model& m, const Tensor& theta, const Tensor& buffers, Stream& s) {
  TensorFile f = load_safetensors(path);
  // As PyTorch's strict load_state_dict: a tensor the model does not have means the file is another model's
  // (a different architecture or width), not this one's with something to ignore.
  std::set<std::string> known;
  for (const ParamSpec& p : m.params().specs()) known.insert(p.name);
  for (const ParamSpec& b : m.buffers().specs()) {
    known.insert(b.name);
    if (ends_with(b.name, kRunningMean))
      known.insert(b.name.substr(0, b.name.size() - kRunningMean.size()) + ".num_batches_tracked");
  }
  for (const auto& [name, t] : f.tensors)
    SP_CHECK(known.count(name), path, ": tensor '", name, "' is not a parameter or buffer of ", m.config().name,
             " width ", m.config().width, " (a file of another model?)");
  try {
    m.params().load(theta, f.tensors, "", s);
    if (m.buffers().numel() > 0) m.buffers().load(buffers, f.tensors, "", s);
  } catch (const Error& e) {
    throw Error(path + ": " + e.what());
  }
}

}  // namespace sp
