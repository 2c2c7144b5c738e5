// Image-folder loader (see image_folder.h).
#include "data/image_folder.h"

#include <stb/stb_image.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <thread>

#include "data/file_util.h"
#include "data/image_check.h"

namespace fs = std::filesystem;

namespace sp::data {
namespace {

// Largest image side accepted from a folder (CIFAR-sized data is 32; downsampled ImageNet at most 256).
constexpr int kMaxImageSide = 4096;

bool is_image_file(const fs::directory_entry& e) {
  if (!e.is_regular_file()) return false;
  std::string name = e.path().filename().string();
  if (name.empty() || name[0] == '.') return false;
  std::string ext = e.path().extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg";
}

std::vector<std::string> sorted_class_dirs(const fs::path& dir) {
  SP_CHECK(fs::is_directory(dir), "image folder: '", dir.string(), "' is not a directory");
  std::vector<std::string> classes;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_directory() && e.path().filename().string()[0] != '.') classes.push_back(e.path().filename().string());
  std::sort(classes.begin(), classes.end());
  SP_CHECK(!classes.empty(), "image folder: '", dir.string(), "' has no class folders");
  // Class names end up in experiment records (JSON, reports): they must be printable UTF-8, which is checked
  // here, before any output exists (the message shows the name with its bad bytes escaped).
  for (const std::string& c : classes)
    SP_CHECK(printable_text(c) == c, "image folder: class folder name '", c, "' in '", dir.string(),
             "' is not printable UTF-8; rename the folder");
  return classes;
}

// "'a.png' is 64x64, expected 32x32", naming the image that set the expected size when one did: with sizes taken
// from the first image, an odd first image would otherwise have every good image blamed for it.
std::string size_mismatch(const std::string& path, int iw, int ih, int64_t h, int64_t w, const std::string& size_from) {
  std::string msg = "image folder: '" + path + "' is " + std::to_string(iw) + "x" + std::to_string(ih) + ", expected " +
                    std::to_string(w) + "x" + std::to_string(h);
  if (!size_from.empty()) msg += " (the size of '" + size_from + "', the first image, which sets the size of all)";
  return msg;
}

// Decodes one file into a [C=3, H, W] slot; returns an error message or "" on success. `size_from` is the file
// that set h x w, or "" when the options fixed it.
std::string decode_into(const std::string& path, uint8_t* dst, int64_t h, int64_t w, const std::string& size_from) {
  std::vector<uint8_t> bytes;
  try {
    bytes = read_file_bytes(path);
  } catch (const Error& e) {
    return e.what();
  }
  if (const std::string bad = png_structure_problem(bytes); !bad.empty())
    return "image folder: cannot decode '" + path + "': " + bad;
  int iw = 0, ih = 0, comp = 0;
  // The header first: an image of another size is refused before stb allocates what its header claims.
  if (bytes.size() <= size_t(INT32_MAX) && stbi_info_from_memory(bytes.data(), int(bytes.size()), &iw, &ih, &comp) &&
      (ih != h || iw != w))
    return size_mismatch(path, iw, ih, h, w, size_from);
  uint8_t* px = bytes.size() > size_t(INT32_MAX)
                    ? nullptr
                    : stbi_load_from_memory(bytes.data(), int(bytes.size()), &iw, &ih, &comp, 3);
  if (!px) {
    const char* why = stbi_failure_reason();
    return "image folder: cannot decode '" + path + "': " + (why ? why : "unknown error");
  }
  std::string err;
  if (ih != h || iw != w) {
    err = size_mismatch(path, iw, ih, h, w, size_from);
  } else {
    int64_t plane = h * w;
    for (int64_t p = 0; p < plane; ++p)
      for (int c = 0; c < 3; ++c) dst[c * plane + p] = px[3 * p + c];
  }
  stbi_image_free(px);
  return err;
}

}  // namespace

Dataset load_image_folder_split(const std::string& root, const std::string& split, const ImageFolderOptions& opt) {
  fs::path dir = fs::path(root) / split;
  std::vector<std::string> classes = sorted_class_dirs(dir);
  std::vector<std::string> files;
  std::vector<int64_t> labels;
  for (size_t k = 0; k < classes.size(); ++k) {
    std::vector<std::string> f;
    for (const auto& e : fs::directory_iterator(dir / classes[k]))
      if (is_image_file(e)) f.push_back(e.path().string());
    SP_CHECK(!f.empty(), "image folder: class folder '", (dir / classes[k]).string(),
             "' holds no .png/.jpg/.jpeg images");
    std::sort(f.begin(), f.end());
    if (opt.max_per_class >= 0 && int64_t(f.size()) > opt.max_per_class) f.resize(size_t(opt.max_per_class));
    files.insert(files.end(), f.begin(), f.end());
    labels.insert(labels.end(), f.size(), int64_t(k));
  }
  int64_t h = opt.height, w = opt.width;
  std::string size_from;
  if (h <= 0 || w <= 0) {
    SP_CHECK(!files.empty(), "image folder: '", dir.string(), "' has no images to take the size from");
    std::vector<uint8_t> first = read_file_bytes(files[0]);
    const std::string bad = png_structure_problem(first);
    SP_CHECK(bad.empty(), "image folder: cannot decode '", files[0], "': ", bad);
    int iw, ih, comp;
    SP_CHECK(first.size() <= size_t(INT32_MAX) && stbi_info_from_memory(first.data(), int(first.size()), &iw, &ih, &comp),
             "image folder: cannot decode '", files[0], "': ", stbi_failure_reason() ? stbi_failure_reason() : "too large");
    // The first image sets the size of every image: bound it, naming the file, before anything is allocated.
    SP_CHECK(ih >= 1 && iw >= 1 && ih <= kMaxImageSide && iw <= kMaxImageSide, "image folder: '", files[0],
             "' claims ", iw, "x", ih, " pixels; images up to ", kMaxImageSide, " pixels a side are supported");
    h = ih, w = iw;
    size_from = files[0];
  }
  int64_t n = int64_t(files.size());
  Dataset d = make_dataset(root + "/" + split, n, 3, h, w, classes);
  std::copy(labels.begin(), labels.end(), d.labels.data<int64_t>());

  int threads = opt.threads > 0 ? opt.threads : int(std::min(16u, std::max(1u, std::thread::hardware_concurrency())));
  threads = int(std::max<int64_t>(1, std::min<int64_t>(threads, n / 64 + 1)));
  // Work is handed out in chunks; the first error by file index is reported, so the message is the same
  // whatever the thread count.
  std::atomic<int64_t> next{0};
  std::vector<std::pair<int64_t, std::string>> first_error(size_t(threads), {n, ""});
  uint8_t* img = d.images.data<uint8_t>();
  int64_t bytes = d.image_bytes();
  auto work = [&](int t) {
    constexpr int64_t kChunk = 64;
    for (int64_t b; (b = next.fetch_add(kChunk)) < n;) {
      for (int64_t i = b; i < std::min(n, b + kChunk); ++i) {
        if (i >= first_error[size_t(t)].first) break;
        std::string e = decode_into(files[size_t(i)], img + i * bytes, h, w, size_from);
        if (!e.empty()) first_error[size_t(t)] = {i, e};
      }
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(work, t);
  work(0);
  for (auto& th : pool) th.join();
  auto worst = std::min_element(first_error.begin(), first_error.end());
  SP_CHECK(worst->first == n, worst->second);
  return d;
}

DatasetSplits load_image_folder(const std::string& root, const ImageFolderOptions& opt) {
  DatasetSplits s;
  s.train = load_image_folder_split(root, "train", opt);
  s.test = load_image_folder_split(root, "test", opt);
  SP_CHECK(s.train.classes == s.test.classes, "image folder '", root, "': train and test list different classes (",
           s.train.num_classes(), " vs ", s.test.num_classes(), ")");
  SP_CHECK(s.train.images.shape()[2] == s.test.height() && s.train.width() == s.test.width(), "image folder '", root,
           "': train images are ", s.train.height(), "x", s.train.width(), ", test images ", s.test.height(), "x",
           s.test.width());
  return s;
}

}  // namespace sp::data
