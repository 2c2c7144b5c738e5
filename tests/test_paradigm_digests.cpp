// Pins the outputs of the shipped configurations: configs/demo.json, small_cpu.json, dpsgd_small_cpu.json and
// coreset_small_cpu.json, each shrunk to seconds (2 shadows, 60 shapes10 images, width 4, 2 epochs, batch 16,
// 8 audit samples) but otherwise as shipped, are trained by build/bin/sp_train on the CPU and the SHA-256 of
// every shadow's scores.npy, logits.npy and model.safetensors (and the coreset's selections and groups) must
// equal the digests recorded with the code before the paradigm seam existed (main at 8febf3f; DP-SGD's
// re-recorded when its clip factors gained their rounding margin, kernels/dp_sgd_math.h). A refactor of
// the engine, the paradigms or the models that changes one bit of a result fails here. A rerun on the
// finished directory must skip every shadow (an experiment written before stays readable). The runs use the
// reference kernels (SP_CPU_FAST=0): the float32 fast path's bytes depend on the oneDNN version and the CPU's
// instruction set, so it is checked against the reference with tolerances (tests/test_cpu_fast_path.cpp) and
// for thread-count independence (tests/test_sp_audit.cpp), not pinned here.
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "data/sha256.h"
#include "paradigms/json_fields.h"
#include "tests/lira_test_util.h"
#include "tests/test_util.h"

using namespace sp;
using sp::test::TempDir;
namespace fs = std::filesystem;

namespace {

const std::string kTrain = std::string(SP_BINARY_DIR) + "/bin/sp_train";

// The shipped configuration `name`, with only its size reduced, queried on all 18 views as when the digests
// were recorded (a recipe without crops now defaults to fewer views, each the matching slice of these:
// tests/test_sp_train.cpp).
nlohmann::json shrunk_config(const std::string& name) {
  cfg::Errors errors;
  const std::string path = std::string(SP_SOURCE_DIR) + "/configs/" + name + ".json";
  nlohmann::json j = cfg::parse_json_file(path, errors);
  errors.throw_if_any(path);
  j["num_shadows"] = 2;
  j["dataset"]["train"] = 60;
  j["dataset"]["test"] = 20;
  j["model"]["width"] = 4;
  j["recipe"]["epochs"] = 2;
  j["recipe"]["batch_size"] = 16;
  j["audit"]["num_audit"] = 8;
  j["audit"]["query_views"] = "all";
  if (j.contains("coreset")) j["coreset"]["selection_epochs"] = 2;
  if (j.contains("dpsgd")) j["dpsgd"]["physical_batch"] = 8;
  return j;
}

using Digests = std::map<std::string, std::string>;  // file under the experiment directory -> sha256

void expect_digests(const std::string& name, const Digests& expected) {
  if (!fs::exists(kTrain)) GTEST_SKIP() << "sp_train not built";
  TempDir t;
  const std::string cfg = t / (name + ".json"), out = t / "run";
  sp::test::write_text(cfg, shrunk_config(name).dump(2));
  const std::string train = "SP_CPU_FAST=0 " + kTrain;
  auto r = sp::test::run_command(train + " " + cfg + " --out " + out + " --device cpu");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const auto& [file, digest] : expected) {
    ASSERT_TRUE(fs::exists(out + "/" + file)) << name << ": " << file << " missing";
    EXPECT_EQ(data::sha256_file(out + "/" + file), digest) << name << ": " << file << " changed";
  }
  auto again = sp::test::run_command(train + " " + cfg + " --out " + out + " --device cpu");
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_NE(again.output.find("0 trained, 2 already done"), std::string::npos) << again.output;
}

}  // namespace

TEST(ParadigmDigests, DemoIsUnchanged) {
  expect_digests("demo", {
      {"shadow/0/scores.npy", "7af4287fcd8b1fabc5b3f4473587a31c35f47b8749b2014171ddc3a4c1d2049c"},
      {"shadow/1/scores.npy", "de58c07c2b21a1f4944f33bec219d73a31d23a155dd9367f4de99558f6e397d0"},
      {"shadow/0/logits.npy", "03f4310afc735b5cb88508715ca0db2cd660b144dfa3bf267ec20bc03fad47ab"},
      {"shadow/1/logits.npy", "875f2f1c3a931fd62837023b55815284a6a6725434b23ee1eaf9c11b02ae81c5"},
      {"shadow/0/model.safetensors", "207b22afd4d970bb26146171dc92d2893ca067f6f4ee073601c1d0d53bbffd2f"},
      {"shadow/1/model.safetensors", "7c836df037b0af15ba41067f65a2af412e205b4fd2fe89f45e6cda5f1190b5cb"},
  });
}

TEST(ParadigmDigests, SmallCpuBaselineIsUnchanged) {
  expect_digests("small_cpu", {
      {"shadow/0/scores.npy", "305f8312f26dabf45229cbf67bd13e49c851df949b545c41bade016483ba48ef"},
      {"shadow/1/scores.npy", "4b246a5a9866503ed0dca5ce08ad060260b6d1863dbc3d45ff7381900585e9f1"},
      {"shadow/0/logits.npy", "2d4f03e2b8372a9410fe8493fd85db27d21f49083dc90cf353e73fb8f0af8199"},
      {"shadow/1/logits.npy", "eec91e07d826b447c083afda3bb4e3c8b9d7c54408c18b2881704e9187746a6c"},
      {"shadow/0/model.safetensors", "973b22b3eae24b6424bd55ae9b4329a491feff60d4fef2d6b9584ffbc984acdb"},
      {"shadow/1/model.safetensors", "f9a9c04d6e1766aaac394e753047db6f74c58c919d8e45242214abe8e3ac8add"},
  });
}

TEST(ParadigmDigests, DpsgdSmallCpuIsUnchanged) {
  expect_digests("dpsgd_small_cpu", {
      {"shadow/0/scores.npy", "5cf905fdc619fd2a8d780f1db864199840776f7a85dfdb717c19f735a39d287a"},
      {"shadow/1/scores.npy", "bb70f2bfd95a6483cec2fba187b91ea9fb55713abb4196b9408068572da88711"},
      {"shadow/0/logits.npy", "4f394cc724b8ccb55d3dd40459bf304df20d866e8b940765f812020ee077492f"},
      {"shadow/1/logits.npy", "8d185a785d63034bdf5ee555e9a3fada409384b208670f50de07e7bd681c9833"},
      {"shadow/0/model.safetensors", "f8b01e94cedd561fb3a274a0cb20da1f0dc1be06af3c4319040c3b4f04c6197f"},
      {"shadow/1/model.safetensors", "ca132489ad9ad78944705213f3bf6022004d9e548bc4763882a5a68bff73f6eb"},
  });
}

TEST(ParadigmDigests, CoresetSmallCpuIsUnchanged) {
  expect_digests("coreset_small_cpu", {
      {"shadow/0/scores.npy", "aed13ca705cedfc9f70263d2dd7ab0439f5eb795586e493187497b338929a365"},
      {"shadow/1/scores.npy", "863c8a011ff9e3f36cc688dadce476d0efd42cfdd12b2cc71837b88fa606ff0f"},
      {"shadow/0/logits.npy", "8afc54a16dbc907715bc4d267c82f8a0e741bf848d2cdcbab2e4622489da890c"},
      {"shadow/1/logits.npy", "30a8bd2a774ae784804485ad823a1e3e13ec94c96f085ac43c60876f4af575f3"},
      {"shadow/0/model.safetensors", "a4c96cb11f9a6fd8438d44c363a6f5d17e607dbd0242f52a75bd1c14b8a1a2f2"},
      {"shadow/1/model.safetensors", "e70248178881177d10eb5b8a907d27c1c44ed77a39741e8ddd462ccf87adc3b1"},
      {"shadow/0/selected.npy", "ab9ec39cc10f4e0f12f3d1fe43b43b6c974951a84dc2f18bef9c141d0deeea22"},
      {"shadow/1/selected.npy", "8478a4bae360b14d37068e65ece97b66d842cb7d0a59ec194ceba8472caa0191"},
      {"shadow/0/groups.npy", "c2bcb4509e94f8ef99af7f737fba770d20d9d0ef5e46232486f2a23f23336498"},
      {"shadow/1/groups.npy", "5a76a375a499c044c7dda9ff003e76de0a90db4ee80a51d4b5a1aae3f0971644"},
      {"coreset_groups.npy", "329c7d523d0c4bfafda4294bd19929e74cfcd09cf2a415c596915a8985c7c7d7"},
  });
}
