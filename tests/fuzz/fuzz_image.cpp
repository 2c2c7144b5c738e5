// Fuzz target: one image file of an image-folder dataset (data/image_folder.h), decoded by stb_image (PNG,
// JPEG, and whatever else stb recognises from the bytes): with the size fixed at 32x32 as the CIFAR-sized
// datasets have it, and with the size taken from the first image. A second, valid image follows the input,
// so the size check between images runs too.
#include "data/image_folder.h"
#include "data/png.h"
#include "tests/fuzz/fuzz_util.h"

SP_FUZZ_TARGET(image) {
  using namespace sp;
  static const bool tree = [] {
    const std::vector<uint8_t> px(3 * 32 * 32, 100);
    const std::string png = encode_png_rgb(32, 32, px);
    fuzz::write_input("images/train/cls/b.png", reinterpret_cast<const uint8_t*>(png.data()), png.size());
    return true;
  }();
  (void)tree;
  const std::string path = fuzz::write_input("images/train/cls/a.png", data, size);
  const std::string root = fuzz::scratch_dir() + "/images";
  bool ok = fuzz::accepts([&] { data::load_image_folder_split(root, "train", {.threads = 1}); }, path);
  ok |= fuzz::accepts([&] { data::load_image_folder_split(root, "train", {.threads = 1, .height = 0, .width = 0}); },
                      path);
  if (ok) ++fuzz::accepted_count();
  return 0;
}
