// The population set (paradigms/engine/population.h): the first test images, capped at the test split, an
// exact copy of a training image refused naming both, and DIR/population/ written once and then checked.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

#include "data/npy.h"
#include "paradigms/engine/population.h"
#include "tests/lira_test_util.h"

using namespace sp;
namespace fs = std::filesystem;

namespace {

data::DatasetSplits splits(int64_t n_train, int64_t n_test) {
  data::DatasetSplits d;
  d.train = data::make_dataset("toy/train", n_train, 1, 2, 2, {"a", "b", "c"});
  d.test = data::make_dataset("toy/test", n_test, 1, 2, 2, {"a", "b", "c"});
  for (int64_t i = 0; i < n_train; ++i) {
    uint8_t* p = d.train.images.data<uint8_t>() + i * 4;
    for (int k = 0; k < 4; ++k) p[k] = uint8_t(i * 4 + k);
    d.train.labels.data<int64_t>()[i] = i % 3;
  }
  for (int64_t i = 0; i < n_test; ++i) {
    uint8_t* p = d.test.images.data<uint8_t>() + i * 4;
    for (int k = 0; k < 4; ++k) p[k] = uint8_t(200 + k);
    p[0] = uint8_t(i);  // distinct from each other and from every training image (p[1] = 201)
    d.test.labels.data<int64_t>()[i] = (i + 1) % 3;
  }
  return d;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(Population, FirstTestImagesCappedAtTheSplit) {
  data::DatasetSplits d = splits(10, 6);
  PopulationSet p = choose_population(d, 4);
  EXPECT_EQ(p.indices, (std::vector<int64_t>{0, 1, 2, 3}));
  EXPECT_EQ(p.labels, (std::vector<int64_t>{1, 2, 0, 1}));
  EXPECT_EQ(choose_population(d, 1000).size(), 6);
  EXPECT_EQ(choose_population(d, 0).size(), 0);
}

TEST(Population, AnExactCopyOfATrainingImageIsRefusedNamingBoth) {
  data::DatasetSplits d = splits(10, 6);
  std::memcpy(d.test.images.data<uint8_t>() + 3 * 4, d.train.images.data<uint8_t>() + 7 * 4, 4);
  std::string e = error_of([&] { choose_population(d, 6); });
  EXPECT_NE(e.find("toy/test image 3"), std::string::npos) << e;
  EXPECT_NE(e.find("toy/train image 7"), std::string::npos) << e;
  EXPECT_NE(e.find("below 4"), std::string::npos) << e;
  EXPECT_EQ(choose_population(d, 3).size(), 3);  // the copy left out
}

TEST(Population, FilesWrittenOnceThenChecked) {
  sp::test::TempDir t;
  data::DatasetSplits d = splits(10, 6);
  PopulationSet p = choose_population(d, 5);
  write_population_files(t.path(), p);
  EXPECT_EQ(npy::Reader(t / "population/indices.npy").read_integers(), p.indices);
  EXPECT_EQ(npy::Reader(t / "population/labels.npy").read_integers(), p.labels);
  write_population_files(t.path(), p);  // the same again: fine
  std::string e = error_of([&] { write_population_files(t.path(), choose_population(d, 4)); });
  EXPECT_NE(e.find("population/indices.npy"), std::string::npos) << e;
  PopulationSet other = p;
  other.labels[2] = 1;
  e = error_of([&] { write_population_files(t.path(), other); });
  EXPECT_NE(e.find("population/labels.npy"), std::string::npos) << e;
  EXPECT_NE(e.find("entry 2"), std::string::npos) << e;
  sp::test::TempDir empty;
  write_population_files(empty.path(), PopulationSet{});
  EXPECT_FALSE(fs::exists(empty / "population"));
}
