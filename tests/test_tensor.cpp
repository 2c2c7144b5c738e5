// Tensor views, copies, casts and bad input on the CPU.
#include "kernels/tensor.h"

#include "kernels/elem.h"
#include "tests/test_util.h"

using namespace sp;

TEST(Tensor, ContiguousBasics) {
  Tensor t = Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  EXPECT_EQ(t.dim(), 2);
  EXPECT_EQ(t.size(-1), 3);
  EXPECT_EQ(t.strides(), Shape({3, 1}));
  EXPECT_TRUE(t.is_contiguous());
  EXPECT_EQ(t.item({1, 2}), 6.0);
  EXPECT_EQ(t.str(), "F32[2, 3] cpu");
  EXPECT_EQ(reinterpret_cast<uintptr_t>(t.raw_data()) % 64, 0u);
}

TEST(Tensor, ViewsShareStorage) {
  Tensor t = Tensor::from_vector<float>({0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, {3, 4});
  Tensor tr = t.transpose(0, 1);
  EXPECT_FALSE(tr.is_contiguous());
  EXPECT_EQ(tr.item({3, 2}), 11.0);
  Tensor c = tr.contiguous();
  EXPECT_TRUE(c.is_contiguous());
  EXPECT_EQ(c.to_vector<float>(), (std::vector<float>{0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11}));
  Tensor s = t.slice(1, 1, 4, 2);  // columns 1 and 3
  EXPECT_EQ(s.shape(), Shape({3, 2}));
  EXPECT_EQ(s.contiguous().to_vector<float>(), (std::vector<float>{1, 3, 5, 7, 9, 11}));
  Tensor row = t.select(0, -1);
  EXPECT_EQ(row.to_vector<float>(), (std::vector<float>{8, 9, 10, 11}));
  row.fill_(7.0);
  EXPECT_EQ(t.item({2, 0}), 7.0);  // writes through the view
  Tensor v = t.view({2, -1});
  EXPECT_EQ(v.shape(), Shape({2, 6}));
  Tensor p = t.view({3, 2, 2}).permute({2, 0, 1});
  EXPECT_EQ(p.shape(), Shape({2, 3, 2}));
  EXPECT_EQ(p.item({1, 2, 0}), t.item({2, 1}));
}

TEST(Tensor, ExpandUnsqueezeSqueeze) {
  Tensor t = Tensor::from_vector<double>({1, 2, 3}, {3});
  Tensor e = t.unsqueeze(0).expand({4, 3});
  EXPECT_EQ(e.strides(), Shape({0, 1}));
  EXPECT_EQ(e.contiguous().to_vector<double>(), (std::vector<double>{1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3}));
  Tensor col = t.unsqueeze(1);
  EXPECT_EQ(col.shape(), Shape({3, 1}));
  EXPECT_EQ(col.expand({2, 3, 4}).item({1, 2, 3}), 3.0);
  EXPECT_EQ(col.squeeze(1).shape(), Shape({3}));
  EXPECT_THROW(t.expand({2, 4}), Error);
  EXPECT_THROW(t.squeeze(0), Error);
}

TEST(Tensor, EmptyAndZeroSized) {
  Tensor z = Tensor::empty({0, 5}, DType::f32);
  EXPECT_EQ(z.numel(), 0);
  z.fill_(1.0);  // no-op
  EXPECT_EQ(z.contiguous().to_vector<float>().size(), 0u);
  Tensor s = Tensor::full({}, 2.5, DType::f64);  // a scalar
  EXPECT_EQ(s.numel(), 1);
  EXPECT_EQ(s.item(), 2.5);
  Tensor t = Tensor::zeros({4}, DType::i64);
  EXPECT_EQ(t.slice(0, 2, 2).numel(), 0);
}

TEST(Tensor, CastsAllDtypes) {
  Tensor t = Tensor::from_vector<double>({-2.5, 0.0, 1.0, 3.75, 65504.0}, {5});
  for (DType dt : {DType::f32, DType::bf16, DType::f16, DType::i32, DType::i64}) {
    Tensor back = t.to(dt).to(DType::f64);
    auto v = back.to_vector<double>();
    if (dt == DType::i32 || dt == DType::i64) {
      EXPECT_EQ(v[0], -2.0) << dtype_name(dt);  // C++ truncation
      EXPECT_EQ(v[3], 3.0);
    } else if (dt == DType::bf16) {
      EXPECT_EQ(v[3], 3.75);
      EXPECT_EQ(v[4], 65536.0);  // bf16 rounds 65504 to nearest representable
    } else {
      EXPECT_EQ(v[0], -2.5) << dtype_name(dt);
      EXPECT_EQ(v[4], 65504.0);
    }
  }
  Tensor b = Tensor::from_vector<double>({0.0, 2.0}, {2}).to(DType::boolean);
  EXPECT_EQ(b.to(DType::u8).to_vector<uint8_t>(), (std::vector<uint8_t>{0, 1}));
}

TEST(Tensor, OutOfRangeIntegerCastsWrapLikeNumpy) {
  Tensor t = Tensor::from_vector<double>({-59.7, 300.0, NAN, 1e30, -1e30}, {5});
  EXPECT_EQ(t.slice(0, 0, 3).to(DType::u8).to_vector<uint8_t>(), (std::vector<uint8_t>{197, 44, 0}));
  auto i = t.to(DType::i64).to_vector<int64_t>();
  EXPECT_EQ(i[0], -59);
  EXPECT_EQ(i[2], 0);
  EXPECT_GT(i[3], int64_t(9e18));
  EXPECT_LT(i[4], int64_t(-9e18));
}

TEST(Tensor, HalfConversionsRoundToNearestEven) {
  EXPECT_EQ(float_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(bf16_to_float(float_to_bf16(1.00390625f)), 1.0f);  // exactly halfway -> even
  EXPECT_EQ(float_to_f16(1.0f), 0x3c00);
  EXPECT_EQ(f16_to_float(0x0001), std::ldexp(1.0f, -24));  // smallest subnormal
  EXPECT_EQ(float_to_f16(std::ldexp(1.0f, -24)), 0x0001);
  EXPECT_EQ(float_to_f16(70000.0f), 0x7c00);  // overflow to inf
  EXPECT_TRUE(std::isnan(f16_to_float(float_to_f16(NAN))));
  EXPECT_TRUE(std::isnan(bf16_to_float(float_to_bf16(NAN))));
  for (uint32_t h = 0; h < 0x7c00; h += 7)  // every finite positive f16 survives the round trip
    ASSERT_EQ(float_to_f16(f16_to_float(uint16_t(h))), h);
}

TEST(Tensor, BadInputThrowsWithShapes) {
  Tensor t = Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  test::expect_error_mentioning([&] { t.view({4, 2}); }, "[4, 2]");
  EXPECT_THROW(t.transpose(0, 1).view({6}), Error);  // not contiguous
  EXPECT_THROW(t.slice(1, 2, 5), Error);
  EXPECT_THROW(t.select(0, 2), Error);
  EXPECT_THROW(t.size(2), Error);
  EXPECT_THROW(t.data<double>(), Error);
  EXPECT_THROW(t.as_strided({3, 3}, {3, 1}, 0), Error);  // past the storage
  EXPECT_THROW(t.permute({0, 0}), Error);
  EXPECT_THROW(Tensor::from_vector<float>({1, 2}, {3}), Error);
  EXPECT_THROW(Tensor().raw_data(), Error);
  Tensor u = Tensor::zeros({3, 2}, DType::f32);
  EXPECT_THROW(u.copy_(t), Error);
  EXPECT_THROW(Tensor::empty({-1}, DType::f32), Error);
#ifndef SP_HAVE_CUDA
  EXPECT_THROW(t.to(Device::cuda(0)), Error);
#endif
}

TEST(Tensor, CopyBetweenStridedViews) {
  Tensor a = Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor b = Tensor::zeros({3, 2}, DType::f64);
  b.transpose(0, 1).copy_(a);  // strided destination, converting
  EXPECT_EQ(b.to_vector<double>(), (std::vector<double>{1, 4, 2, 5, 3, 6}));
}
