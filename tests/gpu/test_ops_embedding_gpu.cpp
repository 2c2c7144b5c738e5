// embedding and embedding_grad: CUDA against the CPU reference (f32 and f64, repeated and unused ids, a
// weight used twice, many ids and a wide D), forward, gradient and double backward; the CUDA scatter-add
// is deterministic (two runs equal bit for bit) and an out-of-range id reaching the CUDA kernel directly
// gives a NaN row.
#include <cmath>

#include "kernels/embedding.h"
#include "nn/ops_embedding.h"
#include "tests/gpu/gpu_test_util.h"

using namespace sp;
using namespace sp::ag;
using namespace sp::test;

SP_BACKEND_TESTED(embedding);
SP_BACKEND_TESTED(embedding_grad);
SP_BACKEND2_TESTED(embedding);
SP_BACKEND2_TESTED(embedding_grad);

namespace {

std::vector<int64_t> random_ids(int64_t n, int64_t V, uint64_t seed) {
  std::mt19937_64 g(seed);
  std::vector<int64_t> ids(static_cast<size_t>(n));
  for (auto& v : ids) v = int64_t(g() % uint64_t(V));
  return ids;
}

}  // namespace

TEST(OpsEmbeddingGpu, MatchesCpu) {
  SP_REQUIRE_GPU();
  const std::vector<int64_t> small = {3, 0, 10, 3, 3, 7, 0, 1};
  const std::vector<int64_t> batch = random_ids(128, 11, 1);  // a DDPM batch of time steps, V = 11
  for (DType dt : {DType::f32, DType::f64}) {
    compare_backends({randn({11, 6}, dt, 2)}, {true},
                     [&](Tape& t, const std::vector<Var>& v) { return embedding(t, v[0], small); }, 1e-6, 1e-6);
    compare_backends({randn({11, 512}, dt, 3)}, {true},
                     [&](Tape& t, const std::vector<Var>& v) { return embedding(t, v[0], batch); }, 1e-6, 1e-6);
    compare_backends({randn({128, 512}, dt, 4)}, {true},
                     [&](Tape& t, const std::vector<Var>& v) { return embedding_grad(t, v[0], batch, 11); }, 1e-6,
                     1e-6);
  }
  // The weight used twice (beta = 1 accumulation) and a large vocabulary.
  compare_backends({randn({11, 64}, DType::f32, 5)}, {true}, [&](Tape& t, const std::vector<Var>& v) {
    return mul(t, embedding(t, v[0], batch), embedding(t, v[0], random_ids(128, 11, 6)));
  }, 1e-6, 1e-6);
  compare_backends({randn({1000, 32}, DType::f32, 7)}, {true}, [](Tape& t, const std::vector<Var>& v) {
    return embedding(t, v[0], random_ids(3000, 1000, 8));
  }, 1e-6, 1e-6);
}

TEST(OpsEmbeddingGpu, DoubleBackwardMatchesCpu) {
  SP_REQUIRE_GPU();
  const std::vector<int64_t> batch = random_ids(64, 11, 9);
  compare_double_backward({randn({11, 16}, DType::f32, 10)}, {true}, [&](Tape& t, const std::vector<Var>& v) {
    return mul(t, embedding(t, v[0], batch), embedding(t, v[0], random_ids(64, 11, 11)));
  }, 1e-5, 1e-6);
  compare_double_backward({randn({64, 16}, DType::f32, 12)}, {true}, [&](Tape& t, const std::vector<Var>& v) {
    return mul(t, embedding_grad(t, v[0], batch, 11), embedding_grad(t, v[0], random_ids(64, 11, 13), 11));
  }, 1e-5, 1e-6);
}

TEST(OpsEmbeddingGpu, ScatterAddIsDeterministic) {
  SP_REQUIRE_GPU();
  Stream& g = gpu_stream();
  const int64_t N = 4096, V = 11, D = 256;
  Tensor ids = Tensor::from_vector(random_ids(N, V, 14), {N}).to(g.device(), g);
  Tensor gy = randn({N, D}, DType::f32, 15).to(g.device(), g);
  Tensor a = Tensor::empty({V, D}, DType::f32, g), b = Tensor::empty({V, D}, DType::f32, g);
  embedding_backward(g, a, gy, ids, 0.0);
  embedding_backward(g, b, gy, ids, 0.0);
  EXPECT_TRUE(all_close(a, b, 0.0, 0.0, g));
}

TEST(OpsEmbeddingGpu, OutOfRangeIdGivesNaNRow) {
  SP_REQUIRE_GPU();
  Stream& g = gpu_stream();
  Tensor w = randn({4, 3}, DType::f32, 16).to(g.device(), g), y = Tensor::empty({2, 3}, DType::f32, g);
  embedding_forward(g, y, w, Tensor::from_vector<int64_t>({1, 9}, {2}).to(g.device(), g));
  auto v = as_doubles(y, g);
  EXPECT_FALSE(std::isnan(v[0]));
  EXPECT_TRUE(std::isnan(v[3]) && std::isnan(v[5]));
}
