// accumulate_metrics: CUDA against the CPU on random logits with many ties.
#include "kernels/metrics.h"
#include "tests/gpu/gpu_test_util.h"

using namespace sp;
using namespace sp::test;

TEST(MetricsGpu, MatchesCpu) {
  SP_REQUIRE_GPU();
  Stream& g = gpu_stream();
  for (int64_t n : {1, 255, 1000, 4097}) {
    Tensor logits = randn({n, 10}, DType::f32, uint64_t(n)).to(DType::i32).to(DType::f32);  // integer: ties
    std::vector<int64_t> y(n);
    for (int64_t i = 0; i < n; ++i) y[i] = (i * 7) % 10;
    Tensor labels = Tensor::from_vector(y, {n});
    Tensor loss = Tensor::full({}, 1.5, DType::f32);
    Tensor ac = Tensor::zeros({2}, DType::f64), ag = Tensor::zeros({2}, DType::f64, g);
    accumulate_metrics(Stream::cpu(), ac, loss, logits, labels);
    accumulate_metrics(g, ag, loss.to(g.device(), g), logits.to(g.device(), g), labels.to(g.device(), g));
    EXPECT_EQ(ag.to_vector<double>(g), ac.to_vector<double>()) << "n = " << n;
  }
}
