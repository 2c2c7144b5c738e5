// Fails when a kernel lacks a backend (in a CUDA build: CPU and CUDA; otherwise CPU) or a differentiable
// op lacks a first-order gradient check or a second-order check (its differentiable backward). The registries are filled by static registration (kernels/registry.h,
// nn/op_registry.h, tests/test_util.h).
#include "kernels/registry.h"
#include "nn/op_registry.h"
#include "tests/test_util.h"

using namespace sp;

TEST(OpCoverage, EveryKernelHasEveryBackend) {
  ASSERT_FALSE(kernel_list().empty());
  for (const KernelBase* k : kernel_list()) {
    EXPECT_TRUE(k->has(Backend::CPU)) << "kernel '" << k->name() << "' has no CPU reference";
#ifdef SP_HAVE_CUDA
    EXPECT_TRUE(k->has(Backend::CUDA)) << "kernel '" << k->name() << "' has no CUDA implementation";
#endif
  }
}

TEST(OpCoverage, EveryOpHasAGradientCheck) {
  ASSERT_FALSE(registered_ops().empty());
  for (const std::string& op : registered_ops())
    EXPECT_TRUE(test::grad_tested_ops().count(op)) << "op '" << op << "' has no gradient check (SP_GRAD_TESTED)";
  for (const std::string& op : test::grad_tested_ops())
    EXPECT_TRUE(registered_ops().count(op)) << "gradient check for unregistered op '" << op << "'";
}

TEST(OpCoverage, EveryOpHasASecondOrderCheck) {
  for (const std::string& op : registered_ops())
    EXPECT_TRUE(test::grad2_tested_ops().count(op))
        << "op '" << op << "' has no second-order check (SP_GRAD2_TESTED with test::check_second_order)";
  for (const std::string& op : test::grad2_tested_ops())
    EXPECT_TRUE(registered_ops().count(op)) << "second-order check for unregistered op '" << op << "'";
}
