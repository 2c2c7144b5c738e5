// The CUDA caching allocator across streams and devices: a block used on a second stream (record_stream)
// is reused only after that stream's work is done; pinned uploads arrive without a synchronisation; work for
// every GPU of the machine runs from one thread. Skips without a GPU.
#include "kernels/cuda_api.h"
#include "kernels/host_staging.h"
#include "tests/gpu/gpu_test_util.h"

using namespace sp;

TEST(AllocatorGpu, RecordStreamDefersReuseUntilTheOtherStreamIsDone) {
  SP_REQUIRE_GPU();
  std::unique_ptr<Stream> a = Stream::create_cuda(0), b = Stream::create_cuda(0);
  Tensor t = Tensor::empty({1 << 20}, DType::f32, *a);
  void* p = t.raw_data();
  t.record_stream(*b);
  t.fill_(2.0, *b);
  t = Tensor();
  b->synchronize();
  Tensor u = Tensor::empty({1 << 20}, DType::f32, *a);  // b is done: the block is free again
  EXPECT_EQ(u.raw_data(), p);
  EXPECT_EQ(cuda_api::pool_stats(0).bytes_awaiting, 0u);
  EXPECT_THROW(u.record_stream(Stream::cpu()), Error);
}

TEST(AllocatorGpu, PinnedUploadsArriveInOrder) {
  SP_REQUIRE_GPU();
  Stream& s = test::gpu_stream();
  HostUploader up(s, 2);
  std::vector<Tensor> got;
  for (int64_t k = 0; k < 8; ++k) got.push_back(up.upload(std::vector<int64_t>(1000, k), {1000}));
  for (int64_t k = 0; k < 8; ++k) EXPECT_EQ(got[size_t(k)].to_vector<int64_t>(s), std::vector<int64_t>(1000, k));
}

TEST(AllocatorGpu, EveryDeviceFromOneThread) {
  SP_REQUIRE_GPU();
  for (int d = 0; d < cuda_device_count(); ++d) {
    std::unique_ptr<Stream> s = Stream::create_cuda(d);
    Tensor t = Tensor::full({100}, double(d), DType::f32, *s);
    Tensor c = t.clone(*s);
    EXPECT_EQ(c.to_vector<float>(*s), std::vector<float>(100, float(d))) << "cuda:" << d;
  }
}
