// Precision as configured (nn/precision.h, paradigms/config.h): each value of device.precision parses and
// resolves per device (auto: tf32 on a GPU, fp32 on the CPU, never bf16 yet) and sets the stream's TF32 policy;
// the older device.tf32 still reads as tf32 / fp32; both keys, or a bad value, are errors naming the keys;
// bf16 reaches the model configuration and the experiment identity (fp32 and tf32 share a directory, bf16
// does not), and set_precision (the command line's override) keeps all three in step.
#include "nn/precision.h"
#include "paradigms/config.h"
#include "tests/config_test_util.h"
#include "tests/test_util.h"

using namespace sp;
using test::expect_has;

namespace {

const char* kMinimal = R"({
  "dataset": {"name": "shapes10", "train": 300, "test": 50},
  "model": {"name": "resnet18", "width": 8},
  "recipe": {"epochs": 3, "batch_size": 32, "optimizer": {"name": "sgd", "lr": 0.05}},
  "audit": {"num_audit": 20}
})";

// kMinimal with `device` as its device section.
std::string with_device(const std::string& device) {
  std::string s = kMinimal;
  return s.substr(0, s.rfind('}')) + R"(, "device": )" + device + "}";
}

// The message of the sp::Error f throws ("" when it throws none).
template <class F>
std::string error_of(F f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(PrecisionConfig, EachValueParsesAndResolvesPerDevice) {
  EXPECT_EQ(parse_config_text(kMinimal).precision, Precision::automatic);
  struct Case {
    const char* name;
    Precision p, on_cpu;
  };
  for (const Case& k : {Case{"auto", Precision::automatic, Precision::fp32}, Case{"fp32", Precision::fp32, Precision::fp32},
                        Case{"tf32", Precision::tf32, Precision::tf32}, Case{"bf16", Precision::bf16, Precision::bf16}}) {
    SCOPED_TRACE(k.name);
    RunConfig c = parse_config_text(with_device(std::string(R"({"precision": ")") + k.name + "\"}"));
    EXPECT_EQ(c.precision, k.p);
    EXPECT_EQ(c.model.bf16, k.p == Precision::bf16);
    EXPECT_EQ(c.resolved["device"]["precision"], k.name);
    EXPECT_EQ(c.resolved_precision(Stream::cpu()), k.on_cpu);
    EXPECT_EQ(parse_precision(k.name), k.p);
    EXPECT_STREQ(precision_name(k.p), k.name);
    // The resolved form reads back as itself (config.json of an experiment directory).
    EXPECT_EQ(parse_config(c.resolved).resolved, c.resolved);
  }
  EXPECT_EQ(precision_names(), (std::vector<std::string>{"auto", "fp32", "tf32", "bf16"}));
  expect_has(error_of([] { parse_precision("fp16"); }), "precision 'fp16' is not one of auto, fp32, tf32, bf16");
}

TEST(PrecisionConfig, AppliedPrecisionSetsTheStreamsTf32Policy) {
  Stream& s = Stream::cpu();
  const bool was = s.allow_tf32;
  apply_precision(s, Precision::fp32);
  EXPECT_FALSE(s.allow_tf32);
  // bf16's matrix operands are bf16 values, which TF32 holds exactly.
  for (Precision p : {Precision::tf32, Precision::bf16}) {
    apply_precision(s, Precision::fp32);
    apply_precision(s, p);
    EXPECT_TRUE(s.allow_tf32) << precision_name(p);
  }
  expect_has(error_of([&] { apply_precision(s, Precision::automatic); }), "resolve 'auto'");
  s.allow_tf32 = was;
}

TEST(PrecisionConfig, TheOlderTf32KeyStillReads) {
  RunConfig on = parse_config_text(with_device(R"({"tf32": true})"));
  EXPECT_EQ(on.precision, Precision::tf32);
  EXPECT_EQ(on.resolved["device"]["precision"], "tf32");
  EXPECT_FALSE(on.resolved["device"].contains("tf32")) << "resolved in the new spelling";
  RunConfig off = parse_config_text(with_device(R"({"tf32": false})"));
  EXPECT_EQ(off.precision, Precision::fp32);
  EXPECT_FALSE(off.model.bf16);
  // A directory written before precision existed is the same experiment as a default run today.
  EXPECT_EQ(on.identity(), parse_config_text(kMinimal).identity());
  EXPECT_EQ(off.identity(), parse_config_text(kMinimal).identity());
}

TEST(PrecisionConfig, BothKeysOrABadValueAreErrorsNamingTheKeys) {
  const std::string both = test::config_problems(with_device(R"({"tf32": true, "precision": "fp32"})"));
  expect_has(both, "device.precision: device.precision and device.tf32 are both given");
  expect_has(test::config_problems(with_device(R"({"precision": "fp16"})")),
             "device.precision: 'fp16' is not one of auto, fp32, tf32, bf16");
  expect_has(test::config_problems(with_device(R"({"precision": true})")), "device.precision: expected a string");
  expect_has(test::config_problems(with_device(R"({"tf32": "on"})")), "device.tf32: expected true or false");
  expect_has(test::config_problems(with_device(R"({"precison": "bf16"})")), "device.precison");
}

TEST(PrecisionConfig, Bf16IsAnotherExperimentFp32AndTf32AreNot) {
  const RunConfig fp32 = parse_config_text(with_device(R"({"precision": "fp32"})"));
  const RunConfig tf32 = parse_config_text(with_device(R"({"precision": "tf32"})"));
  const RunConfig bf16 = parse_config_text(with_device(R"({"precision": "bf16"})"));
  EXPECT_EQ(fp32.identity(), tf32.identity());
  EXPECT_EQ(fp32.identity(), parse_config_text(kMinimal).identity());
  EXPECT_FALSE(fp32.identity().contains("device")) << "how to run, not what";
  EXPECT_NE(fp32.identity(), bf16.identity());
  EXPECT_EQ(json_differences(fp32.identity(), bf16.identity()),
            (std::vector<std::string>{R"(device: (absent) -> {"precision":"bf16"})"}));
  EXPECT_EQ(bf16.identity()["device"], (nlohmann::json{{"precision", "bf16"}}));
  // Only the precision of "device" enters: other device settings still leave the identity alone.
  const RunConfig bf16_det = parse_config_text(with_device(R"({"precision": "bf16", "deterministic": true})"));
  EXPECT_EQ(bf16_det.identity(), bf16.identity());
}

TEST(PrecisionConfig, SetPrecisionOverridesModelResolvedAndIdentity) {
  RunConfig c = parse_config_text(kMinimal);
  const nlohmann::json fp32_identity = c.identity();
  set_precision(c, Precision::bf16);
  EXPECT_EQ(c.precision, Precision::bf16);
  EXPECT_TRUE(c.model.bf16);
  EXPECT_EQ(c.resolved["device"]["precision"], "bf16");
  EXPECT_NE(c.identity(), fp32_identity);
  EXPECT_EQ(parse_config(c.resolved).identity(), c.identity()) << "as config.json would read back";
  set_precision(c, Precision::fp32);
  EXPECT_FALSE(c.model.bf16);
  EXPECT_EQ(c.identity(), fp32_identity);
}
