// Dataset spec parsing and dispatch (see sources.h).
#include "data/sources.h"

#include <filesystem>
#include <limits>

#include "data/cifar_binary.h"
#include "data/image_folder.h"
#include "data/procedural.h"

namespace fs = std::filesystem;

namespace sp::data {
namespace {
int64_t parse_int(const std::string& spec, const std::string& key, const std::string& v, int64_t lo,
                  int64_t hi = std::numeric_limits<int64_t>::max()) {
  size_t used = 0;
  long long x = 0;
  try {
    x = std::stoll(v, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  SP_CHECK(used == v.size() && !v.empty() && x >= lo && x <= hi, "dataset spec '", spec, "': ", key, "=", v,
           " is not an integer in [", lo, ", ", hi, "]");
  return x;
}
}  // namespace

std::string DatasetSpec::str() const {
  if (kind == "shapes10")
    return "shapes10:seed=" + std::to_string(seed) + ",train=" + std::to_string(n_train) +
           ",test=" + std::to_string(n_test);
  return kind + ":" + path;
}

DatasetSpec parse_dataset_spec(const std::string& spec) {
  DatasetSpec s;
  size_t colon = spec.find(':');
  s.kind = spec.substr(0, colon);
  std::string rest = colon == std::string::npos ? "" : spec.substr(colon + 1);
  if (s.kind == "shapes10") {
    size_t at = 0;
    while (at < rest.size()) {
      size_t comma = rest.find(',', at);
      std::string kv = rest.substr(at, comma == std::string::npos ? std::string::npos : comma - at);
      at = comma == std::string::npos ? rest.size() : comma + 1;
      size_t eq = kv.find('=');
      SP_CHECK(eq != std::string::npos, "dataset spec '", spec, "': expected key=value, got '", kv, "'");
      std::string k = kv.substr(0, eq), v = kv.substr(eq + 1);
      if (k == "seed")
        s.seed = uint64_t(parse_int(spec, k, v, 0));
      else if (k == "train")
        s.n_train = parse_int(spec, k, v, 1, kMaxDatasetImages);
      else if (k == "test")
        s.n_test = parse_int(spec, k, v, 1, kMaxDatasetImages);
      else
        SP_FAIL("dataset spec '", spec, "': unknown key '", k, "' (seed, train, test)");
    }
    return s;
  }
  SP_CHECK(s.kind == "cifar10" || s.kind == "folder", "dataset spec '", spec,
           "': unknown dataset (shapes10[:seed=S,train=N,test=M], cifar10:<dir>, folder:<dir>)");
  SP_CHECK(!rest.empty(), "dataset spec '", spec, "': needs a path, e.g. ", s.kind, ":/data/cifar10");
  s.path = rest;
  return s;
}

DatasetSplits load_dataset(const DatasetSpec& spec) {
  if (spec.kind == "shapes10") return make_shapes10_splits(spec.n_train, spec.n_test, spec.seed);
  fs::path p(spec.path);
  if (spec.kind == "cifar10" &&
      (fs::exists(p / "data_batch_1.bin") || fs::exists(p / "cifar-10-batches-bin" / "data_batch_1.bin"))) {
    return load_cifar10_binary(spec.path);
  }
  if (spec.kind == "cifar10")
    for (const fs::path& d : {p, p / "cifar-10-batches-bin"})
      for (const char* other : {"data_batch_2.bin", "test_batch.bin"})
        SP_CHECK(!fs::exists(d / other), "dataset '", spec.str(), "': '", d.string(), "' holds CIFAR-10 binary batches ",
                 "but not ", (d / "data_batch_1.bin").string());
  SP_CHECK(fs::is_directory(p / "train"), "dataset '", spec.str(), "': '", spec.path,
           "' holds neither CIFAR-10 binary batches nor an image folder (train/<class>/...)");
  DatasetSplits s = load_image_folder(spec.path, {.height = spec.kind == "cifar10" ? 32 : 0,
                                                  .width = spec.kind == "cifar10" ? 32 : 0});
  if (spec.kind == "cifar10") {
    SP_CHECK(s.train.classes == cifar10_classes(), "dataset '", spec.str(), "': class folders are not CIFAR-10's");
    s.train.name = "cifar10/train";
    s.test.name = "cifar10/test";
  }
  return s;
}

}  // namespace sp::data
