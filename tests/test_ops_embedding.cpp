// embedding and embedding_grad on the CPU: values against a naive loop (repeated and unused ids, no ids),
// the gradient as a scatter-add (hand-computed and accumulating with beta), f64 first- and second-order
// gradient checks of both ops (a weight used twice, views of a flat parameter vector), and bad input
// (out-of-range ids naming the id, shapes, dtypes).
#include "kernels/embedding.h"
#include "nn/ops_embedding.h"
#include "nn/ops_loss.h"
#include "tests/test_util.h"

using namespace sp;
using namespace sp::ag;
using namespace sp::test;

SP_GRAD_TESTED(embedding);
SP_GRAD_TESTED(embedding_grad);
SP_GRAD2_TESTED(embedding);
SP_GRAD2_TESTED(embedding_grad);

namespace {

using Vec = std::vector<double>;

Vec naive_gather(const Vec& w, int64_t D, const std::vector<int64_t>& ids) {
  Vec out;
  for (int64_t id : ids)
    for (int64_t d = 0; d < D; ++d) out.push_back(w[size_t(id * D + d)]);
  return out;
}

Vec naive_scatter(const Vec& g, int64_t V, int64_t D, const std::vector<int64_t>& ids) {
  Vec out(size_t(V * D), 0.0);
  for (size_t n = 0; n < ids.size(); ++n)
    for (int64_t d = 0; d < D; ++d) out[size_t(ids[n] * D + d)] += g[n * size_t(D) + size_t(d)];
  return out;
}

const std::vector<int64_t> kIds = {3, 0, 10, 3, 3, 7, 0, 1};  // V = 11: repeats, and ids never used

}  // namespace

TEST(OpsEmbedding, ForwardMatchesNaive) {
  for (DType dt : {DType::f32, DType::f64}) {
    Tensor w = randn({11, 6}, dt, 1);
    Tape t(Stream::cpu());
    Var y = embedding(t, t.leaf(w, true), kIds);
    EXPECT_STREQ(t.producer(y), "embedding");
    EXPECT_EQ(t.value(y).shape(), Shape({8, 6}));
    EXPECT_EQ(t.value(y).dtype(), dt);
    EXPECT_EQ(as_doubles(t.value(y)), naive_gather(as_doubles(w), 6, kIds));
  }
  Tape t(Stream::cpu());
  Var y = embedding(t, t.leaf(randn({11, 6}, DType::f64, 2), true), {});
  EXPECT_EQ(t.value(y).shape(), Shape({0, 6}));
}

TEST(OpsEmbedding, GradientIsScatterAdd) {
  Tensor w = randn({11, 5}, DType::f64, 3), seed = randn({8, 5}, DType::f64, 4);
  Tape t(Stream::cpu());
  Var wv = t.leaf(w, true);
  Var y = embedding(t, wv, kIds);
  Vec want = naive_scatter(as_doubles(seed), 11, 5, kIds);
  EXPECT_TRUE(all_close(t.grad(y, {wv}, &seed)[0], Tensor::from_vector(want, {11, 5}), 1e-15, 1e-15));
  // embedding_grad is the same scatter-add as a forward op.
  Var g = embedding_grad(t, t.leaf(seed, true), kIds, 11);
  EXPECT_STREQ(t.producer(g), "embedding_grad");
  EXPECT_TRUE(all_close(t.value(g), Tensor::from_vector(want, {11, 5}), 1e-15, 1e-15));
  // The kernel with beta: out = scatter + beta * out.
  Stream& s = Stream::cpu();
  Tensor acc = Tensor::full({11, 5}, 1.0, DType::f64);
  embedding_backward(s, acc, seed, Tensor::from_vector(kIds, {8}), 2.0);
  for (size_t k = 0; k < want.size(); ++k) EXPECT_NEAR(as_doubles(acc)[k], want[k] + 2.0, 1e-15) << k;
}

TEST(OpsEmbedding, Gradient) {
  check_gradients({randn({11, 4}, DType::f64, 5)}, {true},
                  [](Tape& t, const std::vector<Var>& v) { return embedding(t, v[0], kIds); });
  // The weight used twice (the second backward accumulates with beta = 1), and a nonlinear consumer.
  check_gradients({randn({11, 4}, DType::f64, 6)}, {true}, [](Tape& t, const std::vector<Var>& v) {
    return mul(t, embedding(t, v[0], kIds), embedding(t, v[0], {1, 2, 2, 9, 0, 10, 10, 10}));
  });
  check_gradients({randn({8, 4}, DType::f64, 7)}, {true},
                  [](Tape& t, const std::vector<Var>& v) { return embedding_grad(t, v[0], kIds, 11); });
  check_gradients({randn({8, 4}, DType::f64, 8)}, {true}, [](Tape& t, const std::vector<Var>& v) {
    return mul(t, embedding_grad(t, v[0], kIds, 11), embedding_grad(t, v[0], {0, 0, 1, 2, 3, 4, 5, 5}, 11));
  });
  // The weight as a view of a flat parameter vector, next to another view that overlaps it.
  check_gradients({randn({60}, DType::f64, 9)}, {true}, [](Tape& t, const std::vector<Var>& v) {
    Var w = t.view(v[0], 4, {11, 4});
    return add(t, embedding(t, w, kIds), t.view(v[0], 0, {8, 4}));
  });
}

TEST(OpsEmbedding, SecondOrder) {
  check_second_order({randn({11, 4}, DType::f64, 10)}, {true}, [](Tape& t, const std::vector<Var>& v) {
    return mul(t, embedding(t, v[0], kIds), embedding(t, v[0], {1, 2, 2, 9, 0, 10, 10, 10}));
  });
  check_second_order({randn({11, 4}, DType::f64, 11)}, {true},
                     [](Tape& t, const std::vector<Var>& v) { return softmax(t, embedding(t, v[0], kIds)); });
  check_second_order({randn({8, 4}, DType::f64, 12)}, {true}, [](Tape& t, const std::vector<Var>& v) {
    return mul(t, embedding_grad(t, v[0], kIds, 11), embedding_grad(t, v[0], {0, 0, 1, 2, 3, 4, 5, 5}, 11));
  });
  check_second_order({randn({8, 4}, DType::f64, 13)}, {true}, [](Tape& t, const std::vector<Var>& v) {
    return softmax(t, embedding_grad(t, v[0], kIds, 11));
  });
}

TEST(OpsEmbedding, BadInput) {
  Tape t(Stream::cpu());
  Var w = t.leaf(Tensor::zeros({11, 4}, DType::f32));
  expect_error_mentioning([&] { embedding(t, w, {0, 11}); }, "embedding: id 11 at index 1 is outside [0, 11)");
  expect_error_mentioning([&] { embedding(t, w, {-1}); }, "embedding: id -1 at index 0");
  expect_error_mentioning([&] { embedding(t, t.leaf(Tensor::zeros({11}, DType::f32)), {0}); }, "must be [V, D]");
  expect_error_mentioning([&] { embedding(t, t.leaf(Tensor::zeros({11, 4}, DType::i32)), {0}); }, "f32 or f64");
  Var g = t.leaf(Tensor::zeros({2, 4}, DType::f32));
  expect_error_mentioning([&] { embedding_grad(t, g, {0, 12}, 11); }, "embedding_grad: id 12 at index 1");
  expect_error_mentioning([&] { embedding_grad(t, g, {0, 1, 2}, 11); }, "embedding_grad: output gradient");
  expect_error_mentioning([&] { embedding_grad(t, g, {0, 1}, -1); }, "num_embeddings");
  // Kernel level: ids dtype and range, output shape.
  Stream& s = Stream::cpu();
  Tensor wt = Tensor::zeros({11, 4}, DType::f32), y = Tensor::empty({2, 4}, DType::f32);
  expect_error_mentioning([&] { embedding_forward(s, y, wt, Tensor::from_vector<int32_t>({0, 1}, {2})); }, "int64");
  expect_error_mentioning([&] { embedding_forward(s, y, wt, Tensor::from_vector<int64_t>({0, 11}, {2})); },
                          "id 11 at index 1");
  expect_error_mentioning([&] { embedding_forward(s, y, wt, Tensor::from_vector<int64_t>({0, 1, 2}, {3})); },
                          "output");
  expect_error_mentioning(
      [&] { embedding_backward(s, Tensor::empty({11, 4}, DType::f64), y, Tensor::from_vector<int64_t>({0, 1}, {2}), 0.0); },
      "dtypes differ");
}
