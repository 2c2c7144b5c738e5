// Fails when a differentiable op has no CPU-vs-CUDA comparison in this binary. Needs no GPU itself.
#include "nn/op_registry.h"
#include "tests/gpu/gpu_test_util.h"

using namespace sp;

TEST(OpCoverageGpu, EveryOpHasABackendComparison) {
  for (const std::string& op : registered_ops())
    EXPECT_TRUE(test::backend_tested_ops().count(op))
        << "op '" << op << "' has no CPU-vs-CUDA test (SP_BACKEND_TESTED)";
}
