// sp_fuzz_seeds: writes the seed corpus of the fuzz targets, one folder per target under OUTDIR, each file a
// valid input made by the project's own writers (npy::write, save_safetensors / save_model / save_train_state,
// the shipped configs/*.json, write_cifar10_batch, the PNG writer) or by stb_image_write for the other image
// formats stb decodes, and the accountant's documented command lines. Valid seeds let a fuzzer start past the
// first format checks; the replay test requires each to be accepted.
//   sp_fuzz_seeds SOURCE_DIR OUTDIR
#include <stb/stb_image_write.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "data/cifar_binary.h"
#include "data/npy.h"
#include "data/png.h"
#include "kernels/tensor.h"
#include "nn/safetensors.h"
#include "paradigms/engine/model_file.h"
#include "paradigms/engine/train_state.h"
#include "tests/fuzz/fuzz_model.h"

namespace fs = std::filesystem;
using namespace sp;

namespace {

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), std::streamsize(bytes.size()));
  SP_CHECK(out.good(), "sp_fuzz_seeds: cannot write ", path);
}

void npy_seeds(const std::string& d) {
  const std::vector<int64_t> s1{5}, s2{2, 3}, s4{2, 1, 2, 3}, s0{};
  npy::write<float>(d + "/f32_logits.npy", s4, {0.5f, -1, 2, 3, 4, 5, 6, 7, 8, 9, 10, -11.25f});
  npy::write<double>(d + "/f64.npy", s2, {1e-300, -2, 3.5, 4, 1e300, 0});
  npy::write<int64_t>(d + "/i64_labels.npy", s1, {0, 9, 3, 3, 1});
  npy::write<int32_t>(d + "/i32.npy", s2, {1, -2, 3, 4, 5, 2147483647});
  npy::write<uint8_t>(d + "/u8.npy", s1, {0, 255, 7, 8, 9});
  npy::write_bool(d + "/bool_mask.npy", s2, {1, 0, 0, 1, 1, 0});
  npy::write<float>(d + "/f32_scalar.npy", s0, {3.0f});
  const std::vector<uint16_t> half{0x3c00, 0xc000, 0x7bff};  // 1, -2, 65504
  npy::write(d + "/f16.npy", DType::f16, std::vector<int64_t>{3}, half.data());
  npy::write<float>(d + "/f32_empty.npy", std::vector<int64_t>{0, 4}, std::vector<float>{});
}

void safetensors_seeds(const std::string& d) {
  fuzz::SmallModel m;
  m.model->init(Stream::cpu(), m.trainer->theta(), m.trainer->buffers(), 3);
  save_model(d + "/model.safetensors", *m.model, m.trainer->theta(), m.trainer->buffers(), 12, {{"note", "seed"}});
  TrainState st;
  st.epochs_done = 2;
  st.history = {{0, 2.3, 0.1, 1.5, 100}, {1, 2.0, 0.2, 1.4, 110}};
  save_train_state(d + "/checkpoint.safetensors", *m.trainer, st, fuzz::kCheckpointTag, Stream::cpu());
  std::map<std::string, Tensor> mixed;
  mixed.emplace("a.f32", Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3}));
  mixed.emplace("b.i64", Tensor::from_vector<int64_t>({7}, {}));
  mixed.emplace("c.u8", Tensor::from_vector<uint8_t>({1, 2, 3}, {3}));
  mixed.emplace("d.f64", Tensor::from_vector<double>({0.25, -8}, {1, 2}));
  save_safetensors(d + "/mixed.safetensors", mixed, {{"format", "pt"}, {"k", "v"}});
}

void config_seeds(const std::string& src, const std::string& d) {
  for (const auto& e : fs::directory_iterator(src + "/configs"))
    if (e.path().extension() == ".json") fs::copy_file(e.path(), d + "/" + e.path().filename().string());
}

void cifar_seeds(const std::string& d) {
  for (int n : {1, 3}) {
    data::Dataset ds = data::make_dataset("seed", n, 3, 32, 32, data::cifar10_classes());
    uint8_t* px = ds.images.data<uint8_t>();
    for (int64_t i = 0; i < ds.images.numel(); ++i) px[i] = uint8_t(i * 7 + 3);
    for (int i = 0; i < n; ++i) ds.labels.data<int64_t>()[i] = (i * 4) % 10;
    data::write_cifar10_batch(d + "/batch_" + std::to_string(n) + ".bin", ds);
  }
}

void append_bytes(void* ctx, void* data, int size) { static_cast<std::string*>(ctx)->append(static_cast<char*>(data), size_t(size)); }

void image_seeds(const std::string& d) {
  std::vector<uint8_t> rgb(3 * 32 * 32), rgba(4 * 32 * 32), grey(32 * 32);
  for (size_t i = 0; i < rgb.size(); ++i) rgb[i] = uint8_t(i * 13);
  for (size_t i = 0; i < rgba.size(); ++i) rgba[i] = uint8_t(i * 5);
  for (size_t i = 0; i < grey.size(); ++i) grey[i] = uint8_t(i);
  write_bytes(d + "/rgb.png", encode_png_rgb(32, 32, rgb));
  std::string s;
  SP_CHECK(stbi_write_png_to_func(append_bytes, &s, 32, 32, 1, grey.data(), 32), "grey png");
  write_bytes(d + "/grey.png", s);
  s.clear();
  SP_CHECK(stbi_write_png_to_func(append_bytes, &s, 32, 32, 4, rgba.data(), 128), "rgba png");
  write_bytes(d + "/rgba.png", s);
  s.clear();
  SP_CHECK(stbi_write_jpg_to_func(append_bytes, &s, 32, 32, 3, rgb.data(), 90), "jpeg");
  write_bytes(d + "/rgb.jpg", s);
  s.clear();
  SP_CHECK(stbi_write_bmp_to_func(append_bytes, &s, 32, 32, 3, rgb.data()), "bmp");
  write_bytes(d + "/rgb.bmp", s);
  s.clear();
  SP_CHECK(stbi_write_tga_to_func(append_bytes, &s, 32, 32, 3, rgb.data()), "tga");
  write_bytes(d + "/rgb.tga", s);
}

void accountant_seeds(const std::string& d) {
  const std::vector<std::pair<std::string, std::vector<std::string>>> runs = {
      {"rdp", {"--sample-rate", "0.00512", "--noise-multiplier", "1.0", "--steps", "19531", "--delta", "1e-5"}},
      {"rdp_calibrate", {"--sample-rate", "0.01", "--steps", "1000", "--delta", "1e-5", "--target-epsilon", "8"}},
      {"prv", {"--sample-rate", "0.01", "--noise-multiplier", "1.1", "--steps", "100", "--delta", "1e-5", "--accountant",
               "prv", "--eps-error", "0.1"}},
      {"prv_calibrate", {"--sample-rate", "0.1", "--steps", "10", "--delta", "1e-5", "--target-epsilon", "4",
                         "--accountant", "prv", "--eps-error", "0.1", "--tolerance", "0.01"}},
  };
  for (const auto& [name, args] : runs) {
    std::string text;
    for (const std::string& a : args) text += a + "\n";
    write_bytes(d + "/" + name + ".args", text);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: sp_fuzz_seeds SOURCE_DIR OUTDIR\n");
    return 1;
  }
  const std::string src = argv[1], out = argv[2];
  try {
    for (const char* t : {"npy", "safetensors", "config", "cifar_binary", "image", "accountant"}) {
      fs::remove_all(out + "/" + t);
      fs::create_directories(out + "/" + t);
    }
    npy_seeds(out + "/npy");
    safetensors_seeds(out + "/safetensors");
    config_seeds(src, out + "/config");
    cifar_seeds(out + "/cifar_binary");
    image_seeds(out + "/image");
    accountant_seeds(out + "/accountant");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sp_fuzz_seeds: %s\n", e.what());
    return 1;
  }
  std::printf("sp_fuzz_seeds: seed corpus written to %s\n", out.c_str());
  return 0;
}
