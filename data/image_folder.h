// Image-folder datasets: root/{train,test}/<class>/*.{png,jpg,jpeg}, classes sorted by folder name (label =
// position), files within a class sorted by name. Decoded with stb_image to RGB on several threads.
// Tested in tests/test_data_image_folder.cpp: a subset of the shared CIFAR-10 (counts, a known pixel,
// label order) and bad input (undecodable file, wrong size, empty class folder, missing split).
#pragma once
#include <string>

#include "data/dataset.h"

namespace sp::data {

struct ImageFolderOptions {
  int64_t max_per_class = -1;  // load only the first K files of each class (by name); -1 loads all
  int threads = 0;             // decoding threads; 0 = hardware concurrency, at most 16
  int64_t height = 32;         // every image must be height x width; 0 takes the first image's size
  int64_t width = 32;
};

// One split folder (root/split/<class>/...).
Dataset load_image_folder_split(const std::string& root, const std::string& split,
                                const ImageFolderOptions& opt = {});
// root/train and root/test; both must list the same classes.
DatasetSplits load_image_folder(const std::string& root, const ImageFolderOptions& opt = {});

}  // namespace sp::data
