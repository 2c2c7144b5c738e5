// The population set (see population.h).
#include "paradigms/engine/population.h"

#include <cstring>
#include <filesystem>
#include <unordered_map>

#include "data/npy.h"
#include "kernels/error.h"

namespace fs = std::filesystem;

namespace sp {

namespace {

// FNV-1a over the pixels: only a bucket key, every candidate match is compared byte for byte.
uint64_t image_hash(const uint8_t* p, int64_t n) {
  uint64_t h = 1469598103934665603ull;
  for (int64_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

void check_file(const std::string& path, const std::vector<int64_t>& want, const char* what) {
  npy::Reader r(path);
  SP_CHECK(r.shape().size() == 1 && r.numel() == int64_t(want.size()), path, ": population ", what, " of shape ",
           npy::shape_str(r.shape()), ", but this configuration queries ", want.size(),
           " population images (audit.population); use another output directory");
  std::vector<int64_t> have = r.read_labels();
  for (size_t i = 0; i < want.size(); ++i)
    SP_CHECK(have[i] == want[i], path, ": population ", what, " differ from this configuration's at entry ", i,
             " (", have[i], " vs ", want[i], "); the test split changed or the directory belongs to another run");
}

}  // namespace

PopulationSet choose_population(const data::DatasetSplits& d, int64_t max_size) {
  SP_CHECK(max_size >= 0, "audit.population must be >= 0, got ", max_size);
  PopulationSet p;
  const int64_t n = std::min(max_size, d.test.size());
  if (n == 0) return p;
  SP_CHECK(d.test.image_bytes() == d.train.image_bytes(), "population: test images of ", d.test.image_bytes(),
           " bytes but training images of ", d.train.image_bytes());
  const int64_t bytes = d.train.image_bytes();
  std::unordered_multimap<uint64_t, int64_t> train;
  train.reserve(size_t(d.train.size()));
  for (int64_t i = 0; i < d.train.size(); ++i) train.emplace(image_hash(d.train.image(i), bytes), i);
  for (int64_t j = 0; j < n; ++j) {
    auto [lo, hi] = train.equal_range(image_hash(d.test.image(j), bytes));
    for (auto it = lo; it != hi; ++it)
      SP_CHECK(std::memcmp(d.test.image(j), d.train.image(it->second), size_t(bytes)) != 0, "population: ",
               d.test.name, " image ", j, " equals ", d.train.name, " image ", it->second,
               " pixel for pixel, so it would be a member of every model trained on that image; the population "
               "must not overlap the training set (remove the duplicate or lower audit.population below ",
               j + 1, ")");
    p.indices.push_back(j);
    p.labels.push_back(d.test.label(j));
  }
  return p;
}

void write_population_files(const std::string& dir, const PopulationSet& p) {
  if (p.size() == 0) return;
  const fs::path pd = fs::path(dir) / kPopulationDir;
  std::error_code ec;
  fs::create_directories(pd, ec);
  SP_CHECK(!ec, pd.string(), ": cannot create directory: ", ec.message());
  const std::vector<int64_t> shape{p.size()};
  const std::string ind = (pd / "indices.npy").string(), lab = (pd / "labels.npy").string();
  // Identical content from every process, each file renamed into place atomically: concurrent writers agree.
  if (fs::exists(ind)) check_file(ind, p.indices, "indices");
  else npy::write(ind, shape, p.indices);
  if (fs::exists(lab)) check_file(lab, p.labels, "labels");
  else npy::write(lab, shape, p.labels);
}

}  // namespace sp
