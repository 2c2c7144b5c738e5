// ParamLayout: offsets, lookup, views of flat buffers and stacks, gradients landing in the flat gradient,
// decay mask, named export/import, a second layout for buffers, and bad input.
#include "nn/params.h"

#include "nn/ops_scale.h"
#include "tests/test_util.h"

using namespace sp;
using namespace sp::ag;
using namespace sp::test;

namespace {
ParamLayout small_layout() {
  ParamLayout l;
  l.add("conv.weight", {2, 3});
  l.add("bn.weight", {4}, /*decay=*/false);
  l.add("linear.bias", {3});
  return l;
}
Tensor arange(int64_t n, double start = 0) {
  std::vector<double> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[size_t(i)] = start + double(i);
  return Tensor::from_vector(v, {n});
}
}  // namespace

TEST(Params, AddAssignsConsecutiveOffsets) {
  ParamLayout l;
  EXPECT_EQ(l.add("a", {2, 3}), 0);
  EXPECT_EQ(l.add("b", {4}, false), 6);
  EXPECT_EQ(l.add("scalar", {}), 10);
  EXPECT_EQ(l.add("empty", {0, 5}), 11);
  EXPECT_EQ(l.add("c", {3}), 11);
  EXPECT_EQ(l.numel(), 14);
  EXPECT_EQ(l.size(), 5);
  EXPECT_EQ(l.specs()[1].name, "b");
  EXPECT_FALSE(l.at("b").decay);
  EXPECT_TRUE(l.at("a").decay);
  EXPECT_EQ(l.at("c").offset, 11);
  EXPECT_EQ(l.at("a").shape, Shape({2, 3}));
  EXPECT_TRUE(l.contains("scalar"));
  EXPECT_FALSE(l.contains("d"));
  EXPECT_EQ(l.find("d"), nullptr);
}

TEST(Params, RejectsBadInput) {
  ParamLayout l = small_layout();
  EXPECT_THROW(l.add("conv.weight", {1}), Error);
  EXPECT_THROW(l.add("", {1}), Error);
  EXPECT_THROW(l.add("neg", {2, -1}), Error);
  expect_error_mentioning([&] { l.at("layer9.weight"); }, "layer9.weight");
  EXPECT_THROW(l.view(arange(12), "conv.weight"), Error);                    // wrong length
  EXPECT_THROW(l.view(arange(26).slice(0, 0, 26, 2), "conv.weight"), Error);  // not contiguous
  EXPECT_THROW(l.view(Tensor(), "conv.weight"), Error);
  Tape t(Stream::cpu());
  EXPECT_THROW(l.view(t, t.leaf(arange(12), true), "bn.weight"), Error);
}

TEST(Params, TensorViewsAliasTheFlatBuffer) {
  ParamLayout l = small_layout();
  Tensor flat = arange(l.numel());
  Tensor w = l.view(flat, "conv.weight");
  EXPECT_EQ(w.shape(), Shape({2, 3}));
  EXPECT_EQ(w.to_vector<double>(), (std::vector<double>{0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(l.view(flat, "linear.bias").to_vector<double>(), (std::vector<double>{10, 11, 12}));
  l.view(flat, "bn.weight").fill_(-1.0);
  EXPECT_EQ(flat.to_vector<double>(), (std::vector<double>{0, 1, 2, 3, 4, 5, -1, -1, -1, -1, 10, 11, 12}));
}

TEST(Params, StackedFlatBuffersGiveOneViewPerModel) {
  ParamLayout l = small_layout();
  Tensor stack = arange(3 * l.numel()).view({3, l.numel()});
  Tensor b = l.view(stack, "linear.bias");
  EXPECT_EQ(b.shape(), Shape({3, 3}));
  EXPECT_EQ(b.contiguous().to_vector<double>(), (std::vector<double>{10, 11, 12, 23, 24, 25, 36, 37, 38}));
  Tensor w = l.view(stack, "conv.weight");
  EXPECT_EQ(w.shape(), Shape({3, 2, 3}));
  EXPECT_EQ(w.item({2, 1, 0}), 2 * 13 + 3);
  // A row of the stack is itself a flat [P] buffer.
  Tensor row = stack.select(0, 1);
  EXPECT_EQ(l.view(row, "bn.weight").to_vector<double>(), (std::vector<double>{19, 20, 21, 22}));
}

TEST(Params, VarViewGradientLandsInTheFlatGradient) {
  ParamLayout l = small_layout();
  Tape t(Stream::cpu());
  Var theta = t.leaf(arange(l.numel(), 1), true);
  Var w = l.view(t, theta, "conv.weight");
  Var b = l.view(t, theta, "linear.bias");
  EXPECT_EQ(t.value(w).shape(), Shape({2, 3}));
  EXPECT_EQ(t.value(b).to_vector<double>(), (std::vector<double>{11, 12, 13}));
  Var y = scale(t, b, 2.0);
  Tensor seed = Tensor::from_vector<double>({1, -1, 3}, {3});
  auto g = t.grad(y, {theta}, &seed);
  EXPECT_EQ(g[0].shape(), Shape({l.numel()}));
  EXPECT_EQ(g[0].to_vector<double>(), (std::vector<double>{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, -2, 6}));
  Var z = scale(t, w, -1.0);
  Tensor seed2 = Tensor::full({2, 3}, 1.0, DType::f64);
  auto h = t.grad(z, {theta}, &seed2);
  EXPECT_EQ(h[0].to_vector<double>(), (std::vector<double>{-1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0}));
}

TEST(Params, DecayMaskFollowsTheFlags) {
  ParamLayout l = small_layout();
  Tensor m = l.decay_mask();
  EXPECT_EQ(m.dtype(), DType::u8);
  EXPECT_EQ(m.to_vector<uint8_t>(), (std::vector<uint8_t>{1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1}));
}

TEST(Params, NamedExportAndLoadRoundTrip) {
  ParamLayout l = small_layout();
  Tensor flat = arange(l.numel(), 5);
  auto named = l.named(flat, "param/");
  ASSERT_EQ(named.size(), 3u);
  EXPECT_EQ(named.at("param/bn.weight").to_vector<double>(), (std::vector<double>{11, 12, 13, 14}));
  // Load into a fresh f32 buffer (dtype converted) and back.
  Tensor other = Tensor::zeros({l.numel()}, DType::f32);
  named.emplace("param/unrelated", Tensor::zeros({7}, DType::f64));  // extra keys are ignored
  l.load(other, named, "param/");
  EXPECT_TRUE(all_close(other, flat, 0, 0));
  named.erase("param/linear.bias");
  EXPECT_THROW(l.load(other, named, "param/"), Error);
  named["param/linear.bias"] = Tensor::zeros({4}, DType::f64);
  EXPECT_THROW(l.load(other, named, "param/"), Error);
  EXPECT_THROW(l.named(Tensor::zeros({2, l.numel()}, DType::f64)), Error);
  // Integer, bool and half tensors under a parameter's name are refused, not converted; so are NaN and inf.
  auto named_ok = l.named(flat, "param/");
  const Shape bias_shape = named_ok.at("param/linear.bias").shape();
  for (DType dt : {DType::i64, DType::i32, DType::u8, DType::boolean, DType::f16, DType::bf16}) {
    auto bad = named_ok;
    bad["param/linear.bias"] = Tensor::zeros(bias_shape, dt);
    try {
      l.load(other, bad, "param/");
      ADD_FAILURE() << "dtype " << dtype_name(dt) << " accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("param/linear.bias"), std::string::npos) << e.what();
    }
  }
  for (double v : {std::nan(""), double(INFINITY)}) {
    auto bad = named_ok;
    bad["param/linear.bias"] = Tensor::zeros(bias_shape, DType::f32);
    bad["param/linear.bias"].data<float>()[1] = float(v);
    try {
      l.load(other, bad, "param/");
      ADD_FAILURE() << v << " accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("non-finite value at element 1"), std::string::npos) << e.what();
    }
  }
}

TEST(Params, BuffersUseTheirOwnLayoutAndFlatBuffer) {
  ParamLayout params = small_layout(), buffers;
  buffers.add("bn.running_mean", {4});
  buffers.add("bn.running_var", {4});
  buffers.add("bn.num_batches_tracked", {});
  Tensor theta = Tensor::zeros({params.numel()}, DType::f64);
  Tensor state = Tensor::zeros({buffers.numel()}, DType::f64);
  buffers.view(state, "bn.running_var").fill_(1.0);
  buffers.view(state, "bn.num_batches_tracked").fill_(3.0);
  EXPECT_EQ(state.to_vector<double>(), (std::vector<double>{0, 0, 0, 0, 1, 1, 1, 1, 3}));
  EXPECT_EQ(theta.to_vector<double>(), std::vector<double>(size_t(params.numel()), 0.0));
  EXPECT_FALSE(params.contains("bn.running_var"));
}
