// safetensors checkpoints: round trip of every dtype (with metadata, scalars, empty and strided tensors), the
// on-disk layout, the golden files written by the Python package, every corruption case (rejected with a
// message naming the file), atomic replacement (no partial file after a failed write), and optimiser state.
#include "nn/safetensors.h"

#include <sys/resource.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "nn/optim.h"
#include "tests/golden_util.h"
#include "tests/test_util.h"

using namespace sp;
using namespace sp::test;
namespace fs = std::filesystem;

namespace {

// A fresh directory per test, removed afterwards.
struct TempDir {
  fs::path dir;
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir = fs::temp_directory_path() /
          ("sp_ckpt_" + std::to_string(::getpid()) + "_" + info->test_suite_name() + "_" + info->name());
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  ~TempDir() { fs::remove_all(dir); }
  std::string operator/(const std::string& name) const { return (dir / name).string(); }
  // Names of everything in the directory (to spot leftover temporary files).
  std::vector<std::string> entries() const {
    std::vector<std::string> v;
    for (const auto& e : fs::directory_iterator(dir)) v.push_back(e.path().filename().string());
    std::sort(v.begin(), v.end());
    return v;
  }
};

std::string read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}
void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), std::streamsize(bytes.size()));
}
// A file with the given header text (not padded) and data bytes; `len` overrides the length field.
std::string make_file(const std::string& header, const std::string& data, int64_t len = -1) {
  uint64_t n = len < 0 ? header.size() : uint64_t(len);
  std::string out(8, '\0');
  memcpy(out.data(), &n, 8);
  return out + header + data;
}
std::string raw_bytes(const Tensor& t) {
  Tensor c = t.contiguous();
  return std::string(static_cast<const char*>(c.raw_data()), c.nbytes());
}

void expect_rejected(const TempDir& d, const std::string& bytes, const std::string& fragment) {
  std::string path = d / "bad.safetensors";
  write_bytes(path, bytes);
  try {
    load_safetensors(path);
    ADD_FAILURE() << "accepted a corrupt file (expected '" << fragment << "')";
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find(path), std::string::npos) << "message does not name the file: " << msg;
    EXPECT_NE(msg.find(fragment), std::string::npos) << "expected '" << fragment << "' in: " << msg;
  }
}

}  // namespace

TEST(Checkpoint, RoundTripEveryDtype) {
  TempDir d;
  std::map<std::string, Tensor> in;
  for (int i = 0; i < kNumDTypes; ++i) {
    DType dt = DType(i);
    // In [0, 200): representable by every dtype, so no conversion is out of range.
    in["t/" + std::string(dtype_name(dt))] = rand_uniform({3, 5}, DType::f64, uint64_t(i), 0.0, 200.0).to(dt);
  }
  in["scalar"] = Tensor::from_vector<double>({3.25}, {});
  in["empty"] = Tensor::zeros({0, 4}, DType::f32);
  in["strided"] = randn({4, 6}, DType::f32, 9).transpose(0, 1);  // written through a contiguous copy
  std::map<std::string, std::string> meta = {{"model", "resnet18"}, {"note", "ünïcode ok"}};
  std::string path = d / "all.safetensors";
  save_safetensors(path, in, meta);
  EXPECT_EQ(d.entries(), std::vector<std::string>{"all.safetensors"});

  TensorFile out = load_safetensors(path);
  EXPECT_EQ(out.metadata, meta);
  ASSERT_EQ(out.tensors.size(), in.size());
  for (const auto& [name, t] : in) {
    const Tensor& u = out.at(name);
    EXPECT_EQ(u.dtype(), t.dtype()) << name;
    EXPECT_EQ(u.shape(), t.shape()) << name;
    EXPECT_EQ(raw_bytes(u), raw_bytes(t)) << name;
  }
  EXPECT_THROW(out.at("missing"), Error);
}

TEST(Checkpoint, OnDiskLayoutFollowsTheFormat) {
  TempDir d;
  std::string path = d / "layout.safetensors";
  save_safetensors(path,
                   {{"a_u8", Tensor::zeros({3}, DType::u8)},
                    {"b_f64", Tensor::full({2}, 1.5, DType::f64)},
                    {"c_f16", Tensor::zeros({1}, DType::f16)}},
                   {{"k", "v"}});
  std::string bytes = read_bytes(path);
  uint64_t n;
  memcpy(&n, bytes.data(), 8);
  EXPECT_EQ((8 + n) % 8, 0u) << "header padded to 8 bytes";
  std::string header = bytes.substr(8, n);
  EXPECT_EQ(header.front(), '{');
  EXPECT_EQ(header.find_last_not_of(' '), header.rfind('}')) << "padding is spaces";
  auto h = nlohmann::json::parse(header);
  EXPECT_EQ(h["__metadata__"]["k"], "v");
  EXPECT_EQ(h["b_f64"]["dtype"], "F64");
  EXPECT_EQ(h["b_f64"]["shape"], nlohmann::json::array({2}));
  // Larger elements first, so each tensor starts aligned to its element size.
  EXPECT_EQ(h["b_f64"]["data_offsets"], nlohmann::json::array({0, 16}));
  EXPECT_EQ(h["c_f16"]["data_offsets"], nlohmann::json::array({16, 18}));
  EXPECT_EQ(h["a_u8"]["data_offsets"], nlohmann::json::array({18, 21}));
  EXPECT_EQ(bytes.size(), 8 + n + 21);
  double first;
  memcpy(&first, bytes.data() + 8 + n, 8);
  EXPECT_EQ(first, 1.5);
}

TEST(Checkpoint, ReadsTheGoldenFilesFromPython) {
  SP_REQUIRE_GOLDEN(path, "resnet18_w8.safetensors");
  TensorFile f = load_safetensors(path);
  EXPECT_EQ(f.at("param/conv1.weight").shape(), Shape({8, 3, 3, 3}));
  EXPECT_EQ(f.at("param/layer2.0.shortcut.0.weight").shape(), Shape({16, 8, 1, 1}));
  EXPECT_EQ(f.at("param/linear.weight").shape(), Shape({10, 64}));
  EXPECT_EQ(f.at("param/linear.bias").shape(), Shape({10}));
  EXPECT_EQ(f.at("input/x").shape(), Shape({8, 3, 32, 32}));
  EXPECT_EQ(f.at("input/x").dtype(), DType::f64);
  EXPECT_EQ(f.at("input/y").dtype(), DType::i64);
  EXPECT_EQ(f.at("buffer/bn1.num_batches_tracked").shape(), Shape({}));
  for (int64_t y : f.at("input/y").to_vector<int64_t>()) EXPECT_TRUE(y >= 0 && y < 10) << y;
  EXPECT_EQ(f.metadata.at("model"), "resnet18_w8");
  int64_t total = 0;
  int count = 0;
  for (const auto& [name, t] : f.tensors)
    if (name.rfind("param/", 0) == 0) total += t.numel(), ++count;
  EXPECT_EQ(total, 176402);
  EXPECT_EQ(count, 62);
  // BN weights start at 1 in PyTorch's initialisation: a check that the data offsets were read correctly.
  EXPECT_EQ(f.at("param/bn1.weight").to_vector<double>(), std::vector<double>(8, 1.0));

  SP_REQUIRE_GOLDEN(convnet, "convnet3_w32.safetensors");
  TensorFile c = load_safetensors(convnet);
  EXPECT_EQ(c.at("param/classifier.weight").shape(), Shape({10, 512}));
  EXPECT_EQ(c.at("param/features.0.weight").shape(), Shape({32, 3, 3, 3}));
}

TEST(Checkpoint, RewritingAGoldenFileKeepsEveryTensor) {
  SP_REQUIRE_GOLDEN(path, "convnet3_w32.safetensors");
  TempDir d;
  TensorFile f = load_safetensors(path);
  save_safetensors(d / "copy.safetensors", f.tensors, f.metadata);
  TensorFile g = load_safetensors(d / "copy.safetensors");
  EXPECT_EQ(g.metadata, f.metadata);
  ASSERT_EQ(g.tensors.size(), f.tensors.size());
  for (const auto& [name, t] : f.tensors) EXPECT_EQ(raw_bytes(g.at(name)), raw_bytes(t)) << name;
}

TEST(Checkpoint, RejectsEveryCorruption) {
  TempDir d;
  std::string f32x2 = std::string(8, '\x01');
  auto one = [](const std::string& fields) { return "{\"a\":{" + fields + "}}"; };
  std::string ok = one(R"("dtype":"F32","shape":[2],"data_offsets":[0,8])");
  // Sanity: the uncorrupted file loads.
  write_bytes(d / "good.safetensors", make_file(ok, f32x2));
  EXPECT_EQ(load_safetensors(d / "good.safetensors").at("a").shape(), Shape({2}));

  expect_rejected(d, "abc", "too short");
  expect_rejected(d, make_file(ok, f32x2, 1000), "exceeds");
  expect_rejected(d, make_file("{\"a\":{\"dtype\":", f32x2), "not valid JSON");
  expect_rejected(d, make_file("[1, 2]", ""), "not a JSON object");
  expect_rejected(d, make_file(one(R"("dtype":"F8_E4M3","shape":[2],"data_offsets":[0,2])"), "ab"),
                  "unknown dtype 'F8_E4M3'");
  expect_rejected(d, make_file(one(R"("dtype":"F64","shape":[2],"data_offsets":[0,8])"), f32x2), "needs 16 bytes");
  expect_rejected(d, make_file(one(R"("dtype":"F32","shape":[3],"data_offsets":[0,8])"), f32x2), "needs 12 bytes");
  expect_rejected(d, make_file(one(R"("dtype":"F32","shape":[2],"data_offsets":[8,16])"), f32x2), "exceed");
  expect_rejected(d, make_file(one(R"("dtype":"F32","shape":[2],"data_offsets":[8,0])"), f32x2), "backwards");
  expect_rejected(d, make_file(one(R"("dtype":"F32","shape":[-2],"data_offsets":[0,8])"), f32x2),
                  "not a non-negative integer");
  expect_rejected(d, make_file(one(R"("dtype":"F32","shape":[2.0],"data_offsets":[0,8])"), f32x2),
                  "not a non-negative integer");
  expect_rejected(d, make_file(one(R"("dtype":"F32","shape":[2])"), f32x2), "needs dtype, shape and data_offsets");
  expect_rejected(d, make_file(one(R"("dtype":"F32","shape":[2],"data_offsets":[0,8],"extra":1)"), f32x2),
                  "unknown field 'extra'");
  expect_rejected(d, make_file(one(R"("dtype":"F32","shape":[2],"data_offsets":[0])"), f32x2), "[begin, end]");
  expect_rejected(d, make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},
                                   "b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                               std::string(12, '\0')),
                  "overlaps 'a'");
  expect_rejected(d, make_file(one(R"("dtype":"F32","shape":[1],"data_offsets":[4,8])"), f32x2), "gap");
  expect_rejected(d, make_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},
                                   "b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
                               std::string(12, '\0')),
                  "gap");
  expect_rejected(d, make_file(ok, f32x2 + "xyz"), "3 trailing bytes");
  expect_rejected(d, make_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},
                                   "a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                               f32x2),
                  "duplicate name 'a'");
  expect_rejected(d, make_file(R"({"__metadata__":{"k":1},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
                               f32x2),
                  "not a string");
  expect_rejected(d, make_file(R"({"a":[1,2]})", ""), "not a JSON object");
  expect_rejected(d, make_file(one(R"("dtype":"F32","shape":[1,1,1,1,1,1,1,1,1],"data_offsets":[0,4])"), "abcd"),
                  "dimensions");
  expect_rejected(d, make_file(one(R"("dtype":"U8","shape":[4294967296,4294967296],"data_offsets":[0,8])"), f32x2),
                  "too large");
  EXPECT_THROW(load_safetensors(d / "does_not_exist.safetensors"), Error);
}

TEST(Checkpoint, RejectsBadTensorsOnWrite) {
  TempDir d;
  EXPECT_THROW(save_safetensors(d / "x.safetensors", {{"__metadata__", Tensor::zeros({1}, DType::f32)}}), Error);
  EXPECT_THROW(save_safetensors(d / "x.safetensors", {{"u", Tensor()}}), Error);
  EXPECT_EQ(d.entries(), std::vector<std::string>{});
}

TEST(Checkpoint, WriteIntoMissingDirectoryLeavesNothing) {
  TempDir d;
  std::string path = d / "no/such/dir/ckpt.safetensors";
  try {
    save_safetensors(path, {{"a", Tensor::zeros({2}, DType::f32)}});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
  EXPECT_EQ(d.entries(), std::vector<std::string>{});
}

TEST(Checkpoint, FailedOverwriteKeepsThePreviousFile) {
  TempDir d;
  std::string path = d / "ckpt.safetensors";
  save_safetensors(path, {{"old", Tensor::full({4}, 2.0, DType::f64)}});
  std::string before = read_bytes(path);
  // Simulate the disk filling up half-way: cap the file size the process may write (SIGXFSZ ignored so the
  // write fails with EFBIG instead of killing the process).
  struct rlimit saved {};
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &saved), 0);
  auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  struct rlimit cap = saved;
  cap.rlim_cur = 4096;
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &cap), 0);
  bool threw = false;
  try {
    save_safetensors(path, {{"new", Tensor::zeros({100000}, DType::f64)}});
  } catch (const Error& e) {
    threw = true;
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
  setrlimit(RLIMIT_FSIZE, &saved);
  std::signal(SIGXFSZ, old_handler);
  EXPECT_TRUE(threw);
  EXPECT_EQ(read_bytes(path), before);
  EXPECT_EQ(d.entries(), std::vector<std::string>{"ckpt.safetensors"}) << "temporary file left behind";
  EXPECT_EQ(load_safetensors(path).at("old").to_vector<double>(), std::vector<double>(4, 2.0));
  // A successful overwrite replaces it.
  save_safetensors(path, {{"new", Tensor::full({3}, 1.0, DType::f32)}});
  TensorFile f = load_safetensors(path);
  EXPECT_FALSE(f.contains("old"));
  EXPECT_EQ(f.at("new").to_vector<float>(), std::vector<float>(3, 1.0f));
  EXPECT_EQ(d.entries(), std::vector<std::string>{"ckpt.safetensors"});
}

TEST(Checkpoint, OptimiserStateSurvivesAFile) {
  TempDir d;
  Stream& s = Stream::cpu();
  OptimConfig c;
  c.kind = OptimKind::adam;
  c.weight_decay = 0.01;
  Tensor p = randn({9}, DType::f32, 1).clone();
  auto a = make_optimizer(c, p, s);
  for (int k = 0; k < 4; ++k) a->step(s, p, randn({9}, DType::f32, 10 + uint64_t(k)), 1e-2);
  std::map<std::string, Tensor> all = a->state("optim/");
  all["param/theta"] = p;
  save_safetensors(d / "train.safetensors", all, {{"optimiser", "adam"}});

  TensorFile f = load_safetensors(d / "train.safetensors");
  Tensor q = f.at("param/theta").clone();
  auto b = make_optimizer(c, q, s);
  b->load_state(f.tensors, "optim/");
  EXPECT_EQ(b->steps(), 4);
  Tensor g = randn({9}, DType::f32, 99);
  a->step(s, p, g, 1e-2);
  b->step(s, q, g, 1e-2);
  EXPECT_TRUE(all_close(q, p, 0, 0));
}
