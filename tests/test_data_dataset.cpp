// Dataset helpers: validation, subset, concat, class counts, fingerprint sensitivity.
#include "data/dataset.h"
#include "tests/data_test_util.h"

using namespace sp;
using namespace sp::data;

namespace {
Dataset tiny() {
  Dataset d = make_dataset("tiny", 4, 3, 2, 2, {"a", "b", "c"});
  uint8_t* p = d.images.data<uint8_t>();
  for (int64_t i = 0; i < d.images.numel(); ++i) p[i] = uint8_t(i);
  int64_t* l = d.labels.data<int64_t>();
  l[0] = 2, l[1] = 0, l[2] = 2, l[3] = 1;
  return d;
}
}  // namespace

TEST(DataDataset, SubsetConcatCounts) {
  Dataset d = tiny();
  d.validate("test");
  EXPECT_EQ(d.class_counts(), (std::vector<int64_t>{1, 1, 2}));
  Dataset s = subset(d, {3, 0, 3});
  EXPECT_EQ(s.labels.to_vector<int64_t>(), (std::vector<int64_t>{1, 2, 1}));
  EXPECT_EQ(s.image(1)[5], d.image(0)[5]);
  EXPECT_EQ(s.image(2)[11], d.image(3)[11]);
  EXPECT_THROW(subset(d, {4}), Error);
  Dataset c = concat({d, s}, "both");
  EXPECT_EQ(c.size(), 7);
  EXPECT_EQ(c.label(6), 1);
  EXPECT_EQ(c.image(5)[0], d.image(0)[0]);
  Dataset other = make_dataset("x", 1, 3, 2, 2, {"a", "b"});
  EXPECT_THROW(concat({d, other}, "mismatch"), Error);
}

TEST(DataDataset, ValidationAndFingerprint) {
  Dataset d = tiny();
  std::string f = fingerprint(d);
  EXPECT_EQ(f.size(), 64u);
  EXPECT_EQ(fingerprint(tiny()), f);
  Dataset e = tiny();
  e.images.data<uint8_t>()[7] ^= 1;
  EXPECT_NE(fingerprint(e), f);
  Dataset g = tiny();
  g.labels.data<int64_t>()[1] = 1;
  EXPECT_NE(fingerprint(g), f);
  Dataset h = tiny();
  h.classes[0] = "z";
  EXPECT_NE(fingerprint(h), f);
  Dataset bad = tiny();
  bad.labels.data<int64_t>()[2] = 3;
  EXPECT_THROW(bad.validate("test"), Error);
  bad.labels.data<int64_t>()[2] = -1;
  EXPECT_THROW(bad.validate("test"), Error);
  Dataset wrong = tiny();
  wrong.labels = Tensor::zeros({3}, DType::i64);
  EXPECT_THROW(wrong.validate("test"), Error);
  wrong.labels = Tensor::zeros({4}, DType::i32);
  EXPECT_THROW(wrong.validate("test"), Error);
}
