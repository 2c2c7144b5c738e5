// ZCA whitening (nn/zca.h): the whitened covariance of the fit set against independent double-precision
// loops (identity for a tiny eps, I - eps T^2 in general), the closed form on an exactly diagonal covariance,
// apply/unapply round trips, symmetry and T T_inv = I, bit-identical file round trips, every corrupt-file
// case naming the path, bad input, and a timed CIFAR-sized (D = 3072) fit.
#include "nn/zca.h"

#include <bit>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "nn/safetensors.h"
#include "tests/data_test_util.h"
#include "tests/test_util.h"

using namespace sp;
using namespace sp::test;

namespace {

constexpr int64_t kC = 3, kH = 4, kW = 4, kD = kC * kH * kW;

// N images in [0, 1] whose channels share a per-pixel signal (so Sigma is far from diagonal), f64.
Tensor correlated_images(int64_t n, uint64_t seed) {
  std::vector<double> base = as_doubles(randn({n, kH, kW}, DType::f64, seed));
  std::vector<double> noise = as_doubles(randn({n, kC, kH, kW}, DType::f64, seed + 1));
  const double gain[kC] = {1.0, 0.7, -0.5};
  std::vector<double> x(size_t(n * kD));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t c = 0; c < kC; ++c)
      for (int64_t p = 0; p < kH * kW; ++p) {
        const size_t at = size_t((i * kC + c) * kH * kW + p);
        const double v = 0.5 + 0.1 * gain[c] * base[size_t(i * kH * kW + p)] + 0.05 * noise[at];
        x[at] = std::clamp(v, 0.0, 1.0);
      }
  return Tensor::from_vector(x, {n, kC, kH, kW});
}

// Unbiased covariance of the rows of x ([N, ...] flattened), by plain loops in double.
std::vector<double> covariance(const Tensor& x) {
  std::vector<double> v = as_doubles(x);
  const int64_t n = x.size(0), d = x.numel() / n;
  std::vector<double> mu(size_t(d), 0.0), cov(size_t(d * d), 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < d; ++j) mu[size_t(j)] += v[size_t(i * d + j)] / double(n);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < d; ++j)
      for (int64_t k = 0; k < d; ++k)
        cov[size_t(j * d + k)] += (v[size_t(i * d + j)] - mu[size_t(j)]) * (v[size_t(i * d + k)] - mu[size_t(k)]);
  for (double& c : cov) c /= double(n - 1);
  return cov;
}

std::vector<double> matmul(const std::vector<double>& a, const std::vector<double>& b, int64_t d) {
  std::vector<double> c(size_t(d * d), 0.0);
  for (int64_t i = 0; i < d; ++i)
    for (int64_t k = 0; k < d; ++k)
      for (int64_t j = 0; j < d; ++j) c[size_t(i * d + j)] += a[size_t(i * d + k)] * b[size_t(k * d + j)];
  return c;
}

// max |a - (b + identity * I)| over the entries (b empty: 0).
double max_dev(const std::vector<double>& a, const std::vector<double>& b, double identity, int64_t d) {
  double m = 0;
  for (int64_t i = 0; i < d; ++i)
    for (int64_t j = 0; j < d; ++j)
      m = std::max(m, std::abs(a[size_t(i * d + j)] - (b.empty() ? 0.0 : b[size_t(i * d + j)]) -
                               (i == j ? identity : 0.0)));
  return m;
}

std::vector<char> file_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

std::map<std::string, std::string> metadata_of(const std::string& path) { return load_safetensors(path).metadata; }

}  // namespace

// eps -> 0 and N >> D: the fit set's whitened covariance is the identity (the defining property of ZCA).
TEST(Zca, TinyEpsWhitensTheFitSetToIdentity) {
  Tensor x = correlated_images(2000, 11);
  Zca z = fit_zca(x, 1e-9);
  EXPECT_EQ(z.samples, 2000);
  EXPECT_EQ(z.dim(), kD);
  Tensor w = z.apply(Stream::cpu(), x.to(DType::f32));
  EXPECT_EQ(w.shape(), x.shape());
  EXPECT_EQ(w.dtype(), DType::f32);
  std::vector<double> cov = covariance(w);
  EXPECT_LT(max_dev(cov, {}, 1.0, kD), 1e-3);
  // And the whitened mean is 0.
  std::vector<double> v = as_doubles(w);
  for (int64_t j = 0; j < kD; ++j) {
    double m = 0;
    for (int64_t i = 0; i < 2000; ++i) m += v[size_t(i * kD + j)] / 2000;
    EXPECT_NEAR(m, 0.0, 1e-4) << j;
  }
}

// In general cov((x - mu) T) = T Sigma T = Sigma (Sigma + eps)^-1 = I - eps T^2, and T^2 (Sigma + eps) = I:
// both checked with Sigma from the loops above, without any eigendecomposition.
TEST(Zca, RegularisedWhiteningMatchesTheClosedForm) {
  Tensor x = correlated_images(200, 21);
  std::vector<double> sigma = covariance(x);
  for (double eps : {1e-3, 0.1}) {
    Zca z = fit_zca(x, eps);
    std::vector<double> t = as_doubles(z.transform);
    std::vector<double> t2 = matmul(t, t, kD);
    std::vector<double> shifted = sigma;
    for (int64_t j = 0; j < kD; ++j) shifted[size_t(j * kD + j)] += eps;
    EXPECT_LT(max_dev(matmul(t2, shifted, kD), {}, 1.0, kD), 1e-4) << "eps " << eps;
    std::vector<double> expected = t2;
    for (double& e : expected) e *= -eps;
    std::vector<double> cov = covariance(z.apply(Stream::cpu(), x.to(DType::f32)));
    EXPECT_LT(max_dev(cov, expected, 1.0, kD), 1e-4) << "eps " << eps;
  }
}

TEST(Zca, UnapplyInvertsApplyAndTransformIsSymmetric) {
  Tensor x = correlated_images(200, 31).to(DType::f32);
  Zca z = fit_zca(x);
  EXPECT_EQ(z.eps, 0.1);
  Tensor back = z.unapply(Stream::cpu(), z.apply(Stream::cpu(), x));
  EXPECT_TRUE(all_close(back, x, 0, 1e-4));
  // [N, D] rows work as well as images.
  Tensor rows = x.view({200, kD});
  EXPECT_TRUE(all_close(z.apply(Stream::cpu(), rows), z.apply(Stream::cpu(), x).view({200, kD}), 0, 0));
  std::vector<float> t = z.transform.to_vector<float>(), ti = z.inverse.to_vector<float>();
  for (int64_t i = 0; i < kD; ++i)
    for (int64_t j = 0; j < kD; ++j) {
      EXPECT_EQ(t[size_t(i * kD + j)], t[size_t(j * kD + i)]) << i << "," << j;
      EXPECT_EQ(ti[size_t(i * kD + j)], ti[size_t(j * kD + i)]) << i << "," << j;
    }
  std::vector<double> prod = matmul(as_doubles(z.transform), as_doubles(z.inverse), kD);
  EXPECT_LT(max_dev(prod, {}, 1.0, kD), 1e-5);
  // Empty batches pass through.
  EXPECT_EQ(z.apply(Stream::cpu(), Tensor::empty({0, kC, kH, kW}, DType::f32)).shape(), (Shape{0, kC, kH, kW}));
}

// Columns 0.5 + c_j h_j with h_j distinct +-1 Walsh vectors (orthogonal, zero-sum) and dyadic c_j: the sample
// covariance is exactly diag(c_j^2 N / (N - 1)), so T = diag(1 / sqrt(var + eps)) and T_inv its reciprocal.
TEST(Zca, DiagonalCovarianceGivesTheScalarClosedForm) {
  const int64_t n = 64;
  std::vector<float> x(size_t(n * kD));
  std::vector<double> var(static_cast<size_t>(kD));
  for (int64_t j = 0; j < kD; ++j) {
    const double c = double(j + 5) / 256.0;
    var[size_t(j)] = c * c * double(n) / double(n - 1);
    for (int64_t i = 0; i < n; ++i) {
      const double h = std::popcount(uint64_t(i) & uint64_t(j + 1)) % 2 ? -1.0 : 1.0;
      x[size_t(i * kD + j)] = float(0.5 + c * h);
    }
  }
  const double eps = 0.01;
  Zca z = fit_zca(Tensor::from_vector(x, {n, kC, kH, kW}), eps);
  std::vector<float> mean = z.mean.to_vector<float>(), t = z.transform.to_vector<float>(),
                     ti = z.inverse.to_vector<float>();
  for (int64_t i = 0; i < kD; ++i) {
    EXPECT_EQ(mean[size_t(i)], 0.5f);
    EXPECT_NEAR(t[size_t(i * kD + i)], 1.0 / std::sqrt(var[size_t(i)] + eps), 1e-6 / std::sqrt(var[size_t(i)] + eps));
    EXPECT_NEAR(ti[size_t(i * kD + i)], std::sqrt(var[size_t(i)] + eps), 1e-6 * std::sqrt(var[size_t(i)] + eps));
    for (int64_t j = 0; j < kD; ++j)
      if (j != i) {
        EXPECT_LE(std::abs(t[size_t(i * kD + j)]), 1e-7) << i << "," << j;
        EXPECT_LE(std::abs(ti[size_t(i * kD + j)]), 1e-7) << i << "," << j;
      }
  }
}

TEST(Zca, SaveLoadRoundTripIsBitIdentical) {
  TempDir dir("zca");
  const std::string path = dir / "zca.safetensors";
  Zca z = fit_zca(correlated_images(200, 41), 0.1 / 3);
  EXPECT_EQ(z.digest.size(), 64u);
  EXPECT_EQ(z.digest, zca_digest(z.mean, z.transform));
  save_zca(path, z, {{"dataset", "cifar10"}});
  Zca l = load_zca(path, kD);
  EXPECT_EQ(l.eps, z.eps);  // 17 digits round-trip the double
  EXPECT_EQ(l.samples, 200);
  EXPECT_EQ(l.digest, z.digest);
  for (auto [a, b] : {std::pair{&l.mean, &z.mean}, {&l.transform, &z.transform}, {&l.inverse, &z.inverse}}) {
    ASSERT_EQ(a->shape(), b->shape());
    EXPECT_EQ(memcmp(a->raw_data(), b->raw_data(), a->nbytes()), 0);
  }
  auto md = metadata_of(path);
  EXPECT_EQ(md.at("dataset"), "cifar10");
  EXPECT_EQ(md.at("digest"), z.digest);
  EXPECT_EQ(md.at("samples"), "200");
  // Saving what was loaded gives the same bytes.
  save_zca(dir / "again.safetensors", l, {{"dataset", "cifar10"}});
  EXPECT_EQ(file_bytes(path), file_bytes(dir / "again.safetensors"));
  EXPECT_EQ(load_zca(path).dim(), kD);  // expected_dim 0: any D
  expect_error_mentioning([&] { load_zca(path, 3072); }, path);
  expect_error_mentioning([&] { save_zca(dir / "bad.safetensors", z, {{"digest", "x"}}); }, "digest");
  // A fit whose tensors were edited no longer matches its digest and is not saved under it.
  Zca edited = z;
  edited.transform = z.transform.clone();
  edited.transform.data<float>()[3] += 1.0f;
  expect_error_mentioning([&] { save_zca(dir / "edited.safetensors", edited); }, "digest");
}

TEST(Zca, CorruptFilesAreRejectedNamingThePath) {
  TempDir dir("zca-corrupt");
  Zca z = fit_zca(correlated_images(100, 51));
  const std::string good = dir / "good.safetensors";
  save_zca(good, z);
  const auto md = metadata_of(good);
  auto write = [&](const std::string& name, std::map<std::string, Tensor> t,
                   std::map<std::string, std::string> meta) {
    const std::string p = dir / name;
    save_safetensors(p, t, meta);
    return p;
  };
  const std::map<std::string, Tensor> tensors = {{"mean", z.mean}, {"transform", z.transform}, {"inverse", z.inverse}};

  // Truncated.
  const std::string truncated = dir / "truncated.safetensors";
  std::filesystem::copy_file(good, truncated);
  std::filesystem::resize_file(truncated, std::filesystem::file_size(good) - 100);
  expect_error_mentioning([&] { load_zca(truncated); }, truncated);
  expect_error_mentioning([&] { load_zca(dir / "missing.safetensors"); }, dir / "missing.safetensors");

  // Wrong shapes and dtypes.
  auto t = tensors;
  t["transform"] = z.transform.narrow(1, 0, kD - 1).contiguous();
  std::string p = write("narrow.safetensors", t, md);
  expect_error_mentioning([&] { load_zca(p); }, p);
  t = tensors;
  t["mean"] = z.mean.to(DType::f64);
  p = write("f64.safetensors", t, md);
  expect_error_mentioning([&] { load_zca(p); }, p);
  t = tensors;
  t.erase("inverse");
  p = write("no_inverse.safetensors", t, md);
  expect_error_mentioning([&] { load_zca(p); }, p);
  t = tensors;
  t["extra"] = z.mean;
  p = write("extra.safetensors", t, md);
  expect_error_mentioning([&] { load_zca(p); }, p);

  // Tampered transform: the digest no longer matches.
  t = tensors;
  t["transform"] = z.transform.clone();
  t["transform"].data<float>()[5] *= 1.0001f;
  p = write("tampered.safetensors", t, md);
  expect_error_mentioning([&] { load_zca(p); }, "digest mismatch");
  expect_error_mentioning([&] { load_zca(p); }, p);

  // NaN in a tensor the digest does not cover.
  t = tensors;
  t["inverse"] = z.inverse.clone();
  t["inverse"].data<float>()[7] = std::nanf("");
  p = write("nan.safetensors", t, md);
  expect_error_mentioning([&] { load_zca(p); }, "non-finite");
  expect_error_mentioning([&] { load_zca(p); }, p);

  // Missing or malformed metadata.
  for (const char* key : {"eps", "samples", "digest"}) {
    auto m = md;
    m.erase(key);
    p = write(std::string("no_") + key + ".safetensors", tensors, m);
    expect_error_mentioning([&] { load_zca(p); }, p);
  }
  for (auto [key, value] : {std::pair{"eps", "0.1x"}, {"eps", "-1"}, {"samples", "1"}, {"samples", "abc"}}) {
    auto m = md;
    m[key] = value;
    p = write("bad_meta.safetensors", tensors, m);
    expect_error_mentioning([&] { load_zca(p); }, p);
  }
}

TEST(Zca, RejectsBadInput) {
  Tensor x = correlated_images(10, 61);
  Tensor nan = x.clone();
  nan.data<double>()[17] = std::nan("");
  expect_error_mentioning([&] { fit_zca(nan); }, "non-finite");
  Tensor inf = x.to(DType::f32);
  inf.data<float>()[3] = INFINITY;
  expect_error_mentioning([&] { fit_zca(inf); }, "non-finite");
  expect_error_mentioning([&] { fit_zca(x.narrow(0, 0, 1)); }, "at least 2");
  EXPECT_THROW(fit_zca(x.view({10, 3, 16})), Error);
  EXPECT_THROW(fit_zca(x.to(DType::i64)), Error);
  EXPECT_THROW(fit_zca(x, 0.0), Error);
  EXPECT_THROW(fit_zca(Tensor()), Error);

  Zca z = fit_zca(x);
  Stream& s = Stream::cpu();
  EXPECT_THROW(z.apply(s, x), Error);  // f64
  EXPECT_THROW(z.apply(s, Tensor::zeros({2, 3, 4, 5}, DType::f32)), Error);
  EXPECT_THROW(z.unapply(s, Tensor::zeros({2, 47}, DType::f32)), Error);
  EXPECT_THROW(Zca().apply(s, Tensor::zeros({2, kD}, DType::f32)), Error);
  // Strided input is fine (made contiguous first).
  Tensor xt = x.to(DType::f32).permute({0, 1, 3, 2}).contiguous().permute({0, 1, 3, 2});
  EXPECT_TRUE(all_close(z.apply(s, xt), z.apply(s, x.to(DType::f32)), 0, 0));
}

// The size MTT/DATM whiten (CIFAR, 32x32x3). Prints the time; 2 cores take a few seconds.
TEST(Zca, FitsCifarSizedInput) {
  const int64_t n = 500;
  Tensor x = rand_uniform({n, 3, 32, 32}, DType::f32, 71, 0.0, 1.0);
  auto t0 = std::chrono::steady_clock::now();
  Zca z = fit_zca(x);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  printf("[ ZCA fit  ] N = %lld, D = 3072: %.2f s\n", static_cast<long long>(n), secs);
  ASSERT_EQ(z.dim(), 3072);
  // Rank <= N - 1 < D: the null directions get the 1 / sqrt(eps) scale, and the maps still invert.
  Tensor some = x.narrow(0, 0, 8);
  EXPECT_TRUE(all_close(z.unapply(Stream::cpu(), z.apply(Stream::cpu(), some)), some, 0, 1e-4));
}
