// The trainer's sources (paradigms/engine/training_source.h): an in-memory image set gives its rows in the
// epoch order of (seed, epoch) with their hard labels (soft labels: the rows and their argmax), a tiny
// classifier trained on it fits it (hard labels with cross-entropy, soft labels with soft cross-entropy), a
// generator source is called once per step with the step and batch size and a student learns from a frozen
// teacher through it with the distillation loss, and bad inputs are refused naming the source.
#include "paradigms/engine/train_loop.h"
#include "tests/test_util.h"

using namespace sp;
using namespace sp::test;

namespace {

ModelConfig tiny_model() {
  ModelConfig c;
  c.name = "convnet3";
  c.width = 16;
  c.num_classes = 4;
  c.image_size = 8;
  return c;
}

TrainRecipe adam_recipe(int epochs, int64_t batch) {
  TrainRecipe r;
  r.epochs = epochs;
  r.batch_size = batch;
  r.optim.kind = OptimKind::adam;
  r.schedule.base_lr = 0.02;
  return r;
}

Tensor random_labels(int64_t n, uint64_t seed) {
  std::vector<int64_t> v;
  Tensor u = rand_uniform({n}, DType::f64, seed, 0, 4);
  for (double x : u.to_vector<double>()) v.push_back(std::min<int64_t>(3, int64_t(x)));
  return Tensor::from_vector(v, {n});
}

}  // namespace

TEST(TrainingSource, ImageSetGivesItsRowsInTheEpochOrder) {
  Tensor images = randn({6, 3, 8, 8}, DType::f32, 1);
  Tensor labels = random_labels(6, 2);
  ImageSetSource src(Stream::cpu(), images, labels, 17);
  EXPECT_EQ(src.size(), 6);
  EXPECT_FALSE(src.soft());
  src.begin_epoch(Stream::cpu(), 3);
  std::vector<int64_t> order = epoch_permutation(6, 17, 3);
  Batch b = src.batch(Stream::cpu(), 3, 2, 5);
  EXPECT_EQ(b.first, 2);
  ASSERT_EQ(b.x.shape(), (Shape{3, 3, 8, 8}));
  for (int64_t i = 0; i < 3; ++i) {
    const int64_t row = order[size_t(2 + i)];
    EXPECT_EQ(b.ids.to_vector<int64_t>()[size_t(i)], row);
    EXPECT_EQ(b.labels.to_vector<int64_t>()[size_t(i)], labels.to_vector<int64_t>()[size_t(row)]);
    EXPECT_EQ(b.x.narrow(0, i, 1).contiguous().to_vector<float>(), images.narrow(0, row, 1).contiguous().to_vector<float>());
  }
  // Soft labels: the rows follow the same order and the hard labels are their argmax.
  Tensor soft = Tensor::from_vector<float>({0.1f, 0.7f, 0.1f, 0.1f, 0.6f, 0.2f, 0.1f, 0.1f, 0.0f, 0.0f, 0.2f, 0.8f,
                                            0.3f, 0.3f, 0.4f, 0.0f, 0.25f, 0.25f, 0.2f, 0.3f, 0.0f, 1.0f, 0.0f, 0.0f},
                                           {6, 4});
  ImageSetSource ss(Stream::cpu(), images, soft, 17);
  EXPECT_TRUE(ss.soft());
  ss.begin_epoch(Stream::cpu(), 0);
  Batch sb = ss.batch(Stream::cpu(), 0, 0, 6);
  const std::vector<int64_t> argmax = {1, 0, 3, 2, 3, 1};
  std::vector<int64_t> ids = sb.ids.to_vector<int64_t>(), got = sb.labels.to_vector<int64_t>();
  for (size_t i = 0; i < 6; ++i) {
    EXPECT_EQ(got[i], argmax[size_t(ids[i])]);
    EXPECT_EQ(sb.soft.narrow(0, int64_t(i), 1).contiguous().to_vector<float>(),
              soft.narrow(0, ids[i], 1).contiguous().to_vector<float>());
  }
  expect_error_mentioning([&] { ImageSetSource(Stream::cpu(), images.to(DType::f64), labels, 1); }, "f32 [N, C, H, W]");
  expect_error_mentioning([&] { ImageSetSource(Stream::cpu(), images, random_labels(5, 1), 1); }, "hard labels");
  expect_error_mentioning([&] { ImageSetSource(Stream::cpu(), images, soft.narrow(0, 0, 5), 1); }, "soft (f32 [6");
}

TEST(TrainingSource, ATinyModelFitsAnInMemorySetWithHardOrSoftLabels) {
  auto model = make_model(tiny_model());
  Tensor images = randn({16, 3, 8, 8}, DType::f32, 3);
  Tensor labels = random_labels(16, 4);
  {
    Trainer tr(*model, adam_recipe(40, 4), Stream::cpu(), 2);
    ImageSetSource src(Stream::cpu(), images, labels, 2);
    EpochStats first = tr.train_epoch(src, 0), last;
    for (int e = 1; e < 40; ++e) last = tr.train_epoch(src, e);
    EXPECT_LT(last.loss, 0.35 * first.loss);
    EXPECT_EQ(last.accuracy, 1.0) << "16 random images memorised";
  }
  // Soft labels: a mix of the label and uniform; the model's softmax approaches them.
  std::vector<float> soft;
  for (int64_t y : labels.to_vector<int64_t>())
    for (int64_t j = 0; j < 4; ++j) soft.push_back(j == y ? 0.7f : 0.1f);
  Trainer tr(*model, adam_recipe(40, 4), Stream::cpu(), 2);
  tr.set_loss(std::make_unique<SoftCrossEntropy>());
  ImageSetSource src(Stream::cpu(), images, Tensor::from_vector(soft, {16, 4}), 2);
  EpochStats first = tr.train_epoch(src, 0), last;
  for (int e = 1; e < 40; ++e) last = tr.train_epoch(src, e);
  // The floor is the soft labels' entropy: -(0.7 ln 0.7 + 3 * 0.1 ln 0.1) = 0.940.
  EXPECT_LT(last.loss, 0.97);
  EXPECT_LT(last.loss, first.loss);
  EXPECT_EQ(last.accuracy, 1.0);
}

TEST(TrainingSource, AGeneratorIsCalledPerStepAndAStudentLearnsFromAFrozenTeacher) {
  auto model = make_model(tiny_model());
  // The teacher: a fixed randomly initialised network of the same architecture.
  Tensor teacher_theta = Tensor::empty({model->params().numel()}, DType::f32);
  Tensor teacher_buffers = Tensor::empty({model->buffers().numel()}, DType::f32);
  model->init(Stream::cpu(), teacher_theta, teacher_buffers, 99);
  auto teacher = [&](const Tensor& x) {
    Tape t(Stream::cpu());
    t.set_recording(false);
    return t.value(model->forward(t, t.leaf(teacher_theta), teacher_buffers, t.leaf(x), false));
  };
  std::vector<std::pair<int64_t, int64_t>> calls;  // (step, batch size)
  BatchProducer gen(10, 4, [&](Stream&, int epoch, int64_t step, int64_t n) {
    calls.push_back({step, n});
    Batch b;
    b.x = randn({n, 3, 8, 8}, DType::f32, 1000 * uint64_t(epoch) + uint64_t(step));
    Tensor z = teacher(b.x);
    std::vector<int64_t> y;  // the teacher's predictions, for the running accuracy
    for (int64_t i = 0; i < n; ++i) {
      std::vector<float> row = z.narrow(0, i, 1).contiguous().to_vector<float>();
      y.push_back(std::max_element(row.begin(), row.end()) - row.begin());
    }
    b.labels = Tensor::from_vector(y, {n});
    return b;
  });
  Trainer tr(*model, adam_recipe(30, 4), Stream::cpu(), 5);
  tr.set_loss(std::make_unique<Distillation>(teacher, 2.0));
  EpochStats first = tr.train_epoch(gen, 0), last;
  EXPECT_EQ(calls, (std::vector<std::pair<int64_t, int64_t>>{{0, 4}, {1, 4}, {2, 2}}));
  for (int e = 1; e < 30; ++e) last = tr.train_epoch(gen, e);
  EXPECT_EQ(calls.size(), 90u);
  EXPECT_LT(last.loss, 0.5 * first.loss) << "the student moves toward the teacher";
  BatchProducer bad(4, 4, [](Stream&, int, int64_t, int64_t) { return Batch{}; });
  expect_error_mentioning([&] { tr.train_epoch(bad, 0); }, "BatchProducer: the producer returned no images");
}
