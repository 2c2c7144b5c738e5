// The OpenBLAS kernel choice of kernels/cpu/blas_setup.h: generic cores are upgraded only on CPUs with AVX2
// and FMA, recognised cores and user settings are left alone, and a tool re-executed with the setting
// reports it.
#include <gtest/gtest.h>

#include <cstdlib>

#include "kernels/cpu/blas_setup.h"

using sp::cpu::preferred_blas_core;

TEST(BlasSetup, UpgradesOnlyGenericCoresOnCapableCpus) {
  EXPECT_EQ(preferred_blas_core("Prescott", true, true, true), "SkylakeX");
  EXPECT_EQ(preferred_blas_core("Prescott", true, true, false), "Haswell");
  EXPECT_EQ(preferred_blas_core("prescott", true, true, false), "Haswell");
  EXPECT_EQ(preferred_blas_core("Nehalem", true, true, false), "Haswell");
  EXPECT_EQ(preferred_blas_core("Prescott", false, true, false), "");  // no AVX2
  EXPECT_EQ(preferred_blas_core("Prescott", true, false, false), "");  // no FMA
  EXPECT_EQ(preferred_blas_core("Haswell", true, true, true), "");     // recognised: keep
  EXPECT_EQ(preferred_blas_core("Zen", true, true, false), "");
  EXPECT_EQ(preferred_blas_core("", true, true, true), "");
}

TEST(BlasSetup, ReportsTheCoreInUse) {
  std::string core = sp::cpu::blas_core_name();
  const char* env = std::getenv("OPENBLAS_CORETYPE");
  if (core.empty()) GTEST_SKIP() << "the BLAS is not OpenBLAS";
  if (env) EXPECT_EQ(core, env) << "OpenBLAS ignored OPENBLAS_CORETYPE";
}
