// Image-folder loader: a subset of the shared CIFAR-10 (counts, label order, known pixels compared with
// libjpeg's decoding of the same files), PNG round trip through write_png, and bad input (undecodable file,
// wrongly sized image, empty class folder, missing split, train/test class mismatch).
#include "data/file_util.h"
#include "data/image_check.h"
#include "data/image_folder.h"
#include "data/sample_grid.h"
#include "tests/data_test_util.h"

using namespace sp;
using namespace sp::data;
namespace fs = std::filesystem;

TEST(DataImageFolder, SharedCifar10Subset) {
  SP_REQUIRE_SHARED_CIFAR(root);
  const int64_t K = 20;
  DatasetSplits s = load_image_folder(root, {.max_per_class = K, .threads = 2});
  EXPECT_EQ(s.train.classes, cifar10_classes());  // alphabetical == official label order
  EXPECT_EQ(s.train.size(), 10 * K);
  EXPECT_EQ(s.test.size(), 10 * K);
  EXPECT_EQ(s.train.images.shape(), Shape({10 * K, 3, 32, 32}));
  EXPECT_EQ(s.train.class_counts(), std::vector<int64_t>(10, K));
  for (int64_t i = 0; i < s.train.size(); ++i) ASSERT_EQ(s.train.label(i), i / K);
  // Pixels as libjpeg (Pillow) decodes them; stb_image's IDCT/upsampling may differ by a level or two.
  struct Px {
    const Dataset* d;
    int64_t index, y, x;
    int rgb[3];
  };
  for (Px p : {Px{&s.train, 0, 5, 9, {174, 176, 173}}, Px{&s.train, 0, 16, 16, {8, 7, 12}},
               Px{&s.train, 9 * K, 0, 0, {169, 169, 179}}, Px{&s.test, 3 * K, 31, 31, {27, 79, 129}}}) {
    for (int c = 0; c < 3; ++c)
      EXPECT_NEAR(int(p.d->image(p.index)[(c * 32 + p.y) * 32 + p.x]), p.rgb[c], 3)
          << "sample " << p.index << " channel " << c << " at (" << p.y << ", " << p.x << ")";
  }
  // Thread count does not change the result.
  Dataset one = load_image_folder_split(root, "test", {.max_per_class = 5, .threads = 1});
  Dataset many = load_image_folder_split(root, "test", {.max_per_class = 5, .threads = 3});
  EXPECT_EQ(fingerprint(one), fingerprint(many));
}

namespace {
// root/train/{a,b}/ with two 4x4 PNGs each and a matching test split.
std::string make_png_tree(const test::TempDir& dir) {
  for (std::string split : {"train", "test"})
    for (std::string cls : {"b_second", "a_first"}) {
      fs::create_directories(dir / (split + "/" + cls));
      for (int k = 0; k < 2; ++k) {
        uint8_t px[3 * 4 * 4];
        for (int i = 0; i < 48; ++i) px[i] = uint8_t(i * 5 + k * 50 + (cls[0] == 'b') * 100);
        write_png(dir / (split + "/" + cls + "/" + std::to_string(k) + ".png"), px, 3, 4, 4);
      }
    }
  write_file_atomic(dir / "train/a_first/notes.txt", std::string("ignored"));
  return dir.path();
}
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST(DataImageFolder, PngRoundTripAndOrder) {
  test::TempDir dir("imgfolder_ok");
  std::string root = make_png_tree(dir);
  DatasetSplits s = load_image_folder(root, {.height = 4, .width = 4});
  EXPECT_EQ(s.train.classes, (std::vector<std::string>{"a_first", "b_second"}));
  EXPECT_EQ(s.train.labels.to_vector<int64_t>(), (std::vector<int64_t>{0, 0, 1, 1}));
  // Sample 3 = b_second/1.png: pixel (1, 2) of channel 2 is value index 32 + 6 of the CHW array.
  EXPECT_EQ(s.train.image(3)[2 * 16 + 1 * 4 + 2], uint8_t((32 + 6) * 5 + 50 + 100));
  Dataset auto_size = load_image_folder_split(root, "train", {.height = 0, .width = 0});
  EXPECT_EQ(auto_size.images.shape(), Shape({4, 3, 4, 4}));
}

TEST(DataImageFolder, BadInputNamesTheFile) {
  {
    test::TempDir dir("imgfolder_size");
    std::string root = make_png_tree(dir);
    std::string m = error_of([&] { load_image_folder(root); });  // expects 32x32 by default
    EXPECT_NE(m.find("0.png' is 4x4, expected 32x32"), std::string::npos) << m;
  }
  {
    test::TempDir dir("imgfolder_corrupt");
    std::string root = make_png_tree(dir);
    write_file_atomic(dir / "train/b_second/1.png", std::string("this is not a png file"));
    std::string m = error_of([&] { load_image_folder(root, {.height = 4, .width = 4}); });
    EXPECT_NE(m.find("cannot decode"), std::string::npos) << m;
    EXPECT_NE(m.find("b_second/1.png"), std::string::npos) << m;
  }
  {
    test::TempDir dir("imgfolder_empty");
    std::string root = make_png_tree(dir);
    fs::create_directories(dir / "test/c_empty");
    std::string m = error_of([&] { load_image_folder(root, {.height = 4, .width = 4}); });
    EXPECT_NE(m.find("c_empty' holds no"), std::string::npos) << m;
  }
  {
    test::TempDir dir("imgfolder_mismatch");
    std::string root = make_png_tree(dir);
    fs::rename(dir / "test/b_second", dir / "test/c_other");
    std::string m = error_of([&] { load_image_folder(root, {.height = 4, .width = 4}); });
    EXPECT_NE(m.find("different classes"), std::string::npos) << m;
  }
  {
    // A class folder whose name is not UTF-8 is refused before anything is written; the name is escaped.
    test::TempDir dir("imgfolder_utf8");
    std::string root = make_png_tree(dir);
    fs::rename(dir / "train/b_second", dir / "train/b_\xff\xfe");
    std::string m = error_of([&] { load_image_folder(root, {.height = 4, .width = 4}); });
    EXPECT_NE(m.find("b_\\xff\\xfe"), std::string::npos) << m;
    EXPECT_NE(m.find("not printable UTF-8"), std::string::npos) << m;
  }
  {
    // An image whose header claims another size is refused from the header, naming the file.
    test::TempDir dir("imgfolder_header");
    std::string root = make_png_tree(dir);
    std::vector<uint8_t> big(3 * 64 * 48, 7);
    write_png(dir / "train/a_first/1.png", big.data(), 3, 48, 64);
    std::string m = error_of([&] { load_image_folder(root, {.height = 4, .width = 4}); });
    EXPECT_NE(m.find("a_first/1.png' is 64x48, expected 4x4"), std::string::npos) << m;
  }
  {
    // Sizes taken from the first image, which is the odd one: the message names it beside the good image that
    // differs from it, so the reader is not sent to the wrong file.
    test::TempDir dir("imgfolder_first_odd");
    std::string root = make_png_tree(dir);
    std::vector<uint8_t> odd(3 * 8 * 8, 9);
    write_png(dir / "train/a_first/0.png", odd.data(), 3, 8, 8);
    std::string m = error_of([&] { load_image_folder_split(root, "train", {.height = 0, .width = 0}); });
    EXPECT_NE(m.find("a_first/1.png' is 4x4, expected 8x8 (the size of '"), std::string::npos) << m;
    EXPECT_NE(m.find("a_first/0.png', the first image"), std::string::npos) << m;
  }
  {
    // A PNG chunk claiming more bytes than the file has is refused before stb_image allocates for it (a 93-byte
    // file claimed a 1.2 GB IDAT chunk; tests/fuzz/regressions/image/).
    test::TempDir dir("imgfolder_png_chunk");
    std::string root = make_png_tree(dir);
    std::filesystem::copy_file(std::string(SP_SOURCE_DIR) + "/tests/fuzz/regressions/image/png_idat_claims_1gb_oom.png",
                               dir / "train/a_first/0.png", std::filesystem::copy_options::overwrite_existing);
    std::string m = error_of([&] { load_image_folder(root, {.height = 4, .width = 4}); });
    EXPECT_NE(m.find("a_first/0.png': chunk 3 ('IDAT') claims 1229193252 bytes, 0 are left"), std::string::npos) << m;
    EXPECT_EQ(png_structure_problem(std::vector<uint8_t>{1, 2, 3}), "");  // not a PNG: left to stb
  }
  {
    test::TempDir dir("imgfolder_nosplit");
    std::string m = error_of([&] { load_image_folder(dir.path()); });
    EXPECT_NE(m.find("train' is not a directory"), std::string::npos) << m;
  }
}
