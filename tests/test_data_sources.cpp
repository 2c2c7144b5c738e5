// Dataset specs: parsing, canonical form, dispatch to the built-in set and to CIFAR-10 binary batches, and
// bad specs.
#include "data/cifar_binary.h"
#include "data/procedural.h"
#include "data/sources.h"
#include "tests/data_test_util.h"

using namespace sp;
using namespace sp::data;

TEST(DataSources, ParseAndLoad) {
  DatasetSpec d = parse_dataset_spec("shapes10");
  EXPECT_EQ(d.str(), "shapes10:seed=0,train=10000,test=2000");
  DatasetSpec s = parse_dataset_spec("shapes10:test=30,seed=4,train=50");
  EXPECT_EQ(s.str(), "shapes10:seed=4,train=50,test=30");
  DatasetSplits sp = load_dataset(s);
  EXPECT_EQ(sp.train.size(), 50);
  EXPECT_EQ(sp.test.size(), 30);
  EXPECT_EQ(fingerprint(sp.train), fingerprint(make_shapes10(50, 4)));
  EXPECT_EQ(parse_dataset_spec("cifar10:/data/c").path, "/data/c");
  for (const char* bad : {"mnist", "shapes10:seed", "shapes10:seed=-1", "shapes10:train=0", "shapes10:colour=1",
                          "shapes10:train=12x", "cifar10", "cifar10:"})
    EXPECT_THROW(parse_dataset_spec(bad), Error) << bad;
}

TEST(DataSources, Cifar10FolderDetection) {
  test::TempDir dir("sources");
  EXPECT_THROW(load_dataset("cifar10:" + dir.path()), Error);  // neither layout
  std::string bin = dir / "cifar-10-batches-bin";
  std::filesystem::create_directories(bin);
  Dataset full = make_dataset("full", kCifarRecordsPerBatch, 3, 32, 32, cifar10_classes());
  full.images.zero_();
  for (int64_t i = 0; i < full.size(); ++i) full.labels.data<int64_t>()[i] = (i * i) % 10;
  write_cifar10_batch(bin + "/test_batch.bin", full);
  for (int k = 1; k <= 5; ++k)  // full-size batches are needed; links keep the test light
    std::filesystem::create_symlink("test_batch.bin", bin + "/data_batch_" + std::to_string(k) + ".bin");
  DatasetSplits s = load_dataset("cifar10:" + dir.path());
  EXPECT_EQ(s.train.size(), 50000);
  // Batches without data_batch_1.bin: the message says which file is missing, not "neither layout".
  std::filesystem::remove(bin + "/data_batch_1.bin");
  try {
    load_dataset("cifar10:" + dir.path());
    ADD_FAILURE() << "loaded without data_batch_1.bin";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("holds CIFAR-10 binary batches but not " + bin + "/data_batch_1.bin"),
              std::string::npos)
        << e.what();
  }
  std::filesystem::create_symlink("test_batch.bin", bin + "/data_batch_1.bin");
  EXPECT_EQ(s.test.name, "cifar10/test");
  EXPECT_EQ(s.train.label(10007), full.label(7));
}
