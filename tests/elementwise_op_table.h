// The activation and binary elementwise ops as named callables, one list shared by the CPU tests
// (tests/test_ops_elementwise.cpp) and the CUDA comparison (tests/gpu/test_ops_elementwise_gpu.cpp), so both
// cover the same ops in the same order (tests index the lists by position).
#pragma once
#include <functional>
#include <utility>
#include <vector>

#include "nn/ops_elementwise.h"

namespace sp::test {

using UnaryOp = std::function<Var(Tape&, Var)>;
using BinOp = std::function<Var(Tape&, Var, Var)>;

// relu, leaky_relu (with the given negative slope), silu, sigmoid, tanh.
inline std::vector<std::pair<const char*, UnaryOp>> activation_ops(double leaky_slope) {
  return {
      {"relu", [](Tape& t, Var x) { return ag::relu(t, x); }},
      {"leaky_relu", [leaky_slope](Tape& t, Var x) { return ag::leaky_relu(t, x, leaky_slope); }},
      {"silu", [](Tape& t, Var x) { return ag::silu(t, x); }},
      {"sigmoid", [](Tape& t, Var x) { return ag::sigmoid(t, x); }},
      {"tanh", [](Tape& t, Var x) { return ag::tanh(t, x); }},
  };
}

// add, sub, mul, div.
inline std::vector<std::pair<const char*, BinOp>> binary_ops() {
  return {
      {"add", [](Tape& t, Var a, Var b) { return ag::add(t, a, b); }},
      {"sub", [](Tape& t, Var a, Var b) { return ag::sub(t, a, b); }},
      {"mul", [](Tape& t, Var a, Var b) { return ag::mul(t, a, b); }},
      {"div", [](Tape& t, Var a, Var b) { return ag::div(t, a, b); }},
  };
}

}  // namespace sp::test
