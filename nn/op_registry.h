// Names of the differentiable ops (nn/ops_*.cpp register theirs with SP_REGISTER_OP). The test suites
// register which ops they gradient-check (tests/test_*.cpp) and compare across backends
// (tests/gpu/*.cpp); tests/test_op_coverage.cpp and tests/gpu/test_op_coverage_gpu.cpp fail when an op
// lacks either, or when a kernel lacks a backend.
#pragma once
#include <set>
#include <string>

namespace sp {

std::set<std::string>& registered_ops();
struct OpRegistrar {
  explicit OpRegistrar(const char* name) { registered_ops().insert(name); }
};

}  // namespace sp

#define SP_REGISTER_OP(name) static ::sp::OpRegistrar SP_OP_REG_##name(#name)
