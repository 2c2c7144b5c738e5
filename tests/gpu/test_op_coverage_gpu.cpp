// Fails when a differentiable op has no CPU-vs-CUDA comparison of its forward/backward or of its double
// backward in this binary. Needs no GPU itself.
#include "nn/op_registry.h"
#include "tests/gpu/gpu_test_util.h"

using namespace sp;

TEST(OpCoverageGpu, EveryOpHasABackendComparison) {
  for (const std::string& op : registered_ops())
    EXPECT_TRUE(test::backend_tested_ops().count(op))
        << "op '" << op << "' has no CPU-vs-CUDA test (SP_BACKEND_TESTED)";
}

TEST(OpCoverageGpu, EveryOpHasADoubleBackwardComparison) {
  for (const std::string& op : registered_ops())
    EXPECT_TRUE(test::backend2_tested_ops().count(op))
        << "op '" << op << "' has no CPU-vs-CUDA double-backward test (SP_BACKEND2_TESTED)";
}
