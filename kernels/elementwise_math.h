// Per-element math of the elementwise family, written once for both backends (SP_HD): the activation
// functions with their derivatives, and the four binary operators. Sigmoid and SiLU use the two-branch form
// of the logistic function so that neither exp overflows for large |x|. Tested through the CPU value and
// gradient checks in tests/test_ops_elementwise.cpp, which therefore cover the CUDA arithmetic too.
#pragma once
#include <math.h>

#include <cstdint>
#include <type_traits>

#include "kernels/error.h"
#include "kernels/hd.h"

namespace sp {

enum class Act : uint8_t { relu, leaky_relu, silu, sigmoid, tanh, exp, rsqrt, sqrt };
enum class BinaryOp : uint8_t { add, sub, mul, div };

constexpr const char* act_name(Act a) {
  switch (a) {
    case Act::relu: return "relu";
    case Act::leaky_relu: return "leaky_relu";
    case Act::silu: return "silu";
    case Act::sigmoid: return "sigmoid";
    case Act::tanh: return "tanh";
    case Act::exp: return "exp";
    case Act::rsqrt: return "rsqrt";
    case Act::sqrt: return "sqrt";
  }
  return "?";
}
constexpr const char* binary_name(BinaryOp op) {
  switch (op) {
    case BinaryOp::add: return "add";
    case BinaryOp::sub: return "sub";
    case BinaryOp::mul: return "mul";
    case BinaryOp::div: return "div";
  }
  return "?";
}

// Sigmoid, tanh, exp, rsqrt and sqrt differentiate most cheaply from their output; the others need the input.
constexpr bool act_backward_uses_output(Act a) {
  return a == Act::sigmoid || a == Act::tanh || a == Act::exp || a == Act::rsqrt || a == Act::sqrt;
}

// Overloads so the same template picks the float or double libm/CUDA function.
SP_HD float math_exp(float x) { return ::expf(x); }
SP_HD double math_exp(double x) { return ::exp(x); }
SP_HD float math_tanh(float x) { return ::tanhf(x); }
SP_HD double math_tanh(double x) { return ::tanh(x); }
SP_HD float math_sqrt(float x) { return ::sqrtf(x); }
SP_HD double math_sqrt(double x) { return ::sqrt(x); }

// 1 / (1 + e^-x) without overflow: the exponent is always <= 0.
template <class T>
SP_HD T stable_sigmoid(T x) {
  if (x >= T(0)) return T(1) / (T(1) + math_exp(-x));
  T e = math_exp(x);
  return e / (T(1) + e);
}

// `slope` is leaky_relu's negative slope and ignored by the others. NaN propagates through every function.
template <Act A, class T>
SP_HD T act_forward(T x, T slope) {
  if constexpr (A == Act::relu) return x < T(0) ? T(0) : x;
  if constexpr (A == Act::leaky_relu) return x < T(0) ? slope * x : x;
  if constexpr (A == Act::silu) return x * stable_sigmoid(x);
  if constexpr (A == Act::sigmoid) return stable_sigmoid(x);
  if constexpr (A == Act::tanh) return math_tanh(x);
  if constexpr (A == Act::exp) return math_exp(x);
  if constexpr (A == Act::rsqrt) return T(1) / math_sqrt(x);  // +inf at 0, NaN below
  if constexpr (A == Act::sqrt) return math_sqrt(x);
}

// d act / dx times gy. `saved` is the output y for sigmoid/tanh and the input x otherwise
// (act_backward_uses_output). ReLU's derivative at 0 is taken as 0, leaky ReLU's as the slope.
template <Act A, class T>
SP_HD T act_backward(T saved, T gy, T slope) {
  if constexpr (A == Act::relu) return saved > T(0) ? gy : T(0);
  if constexpr (A == Act::leaky_relu) return saved > T(0) ? gy : slope * gy;
  if constexpr (A == Act::silu) {
    // silu' = s (1 + x (1 - s)): bounded for every x since s -> 0 as x -> -inf and 1 - s -> 0 as x -> inf.
    T s = stable_sigmoid(saved);
    return gy * s * (T(1) + saved * (T(1) - s));
  }
  if constexpr (A == Act::sigmoid) return gy * saved * (T(1) - saved);
  if constexpr (A == Act::tanh) return gy * (T(1) - saved * saved);
  if constexpr (A == Act::exp) return gy * saved;
  if constexpr (A == Act::rsqrt) return T(-0.5) * gy * saved * saved * saved;  // d x^-1/2 = -y^3 / 2
  if constexpr (A == Act::sqrt) return T(0.5) * gy / saved;                   // +inf at 0, as PyTorch
}

template <BinaryOp OP, class T>
SP_HD T binary_apply(T a, T b) {
  if constexpr (OP == BinaryOp::add) return a + b;
  if constexpr (OP == BinaryOp::sub) return a - b;
  if constexpr (OP == BinaryOp::mul) return a * b;
  if constexpr (OP == BinaryOp::div) return a / b;
}

// out = alpha * v + beta * out, never reading out when beta is 0 (it may be uninitialised).
template <class T>
SP_HD T blend(T v, T alpha, T beta, const T* out) {
  return beta == T(0) ? alpha * v : alpha * v + beta * *out;
}

// Host-side switch from the runtime enum to a compile-time one: f(std::integral_constant<Act, a>{}), so each
// backend instantiates one loop per function with the branch resolved at compile time.
template <class F>
void dispatch_act(Act a, F&& f) {
  switch (a) {
    case Act::relu: return f(std::integral_constant<Act, Act::relu>{});
    case Act::leaky_relu: return f(std::integral_constant<Act, Act::leaky_relu>{});
    case Act::silu: return f(std::integral_constant<Act, Act::silu>{});
    case Act::sigmoid: return f(std::integral_constant<Act, Act::sigmoid>{});
    case Act::tanh: return f(std::integral_constant<Act, Act::tanh>{});
    case Act::exp: return f(std::integral_constant<Act, Act::exp>{});
    case Act::rsqrt: return f(std::integral_constant<Act, Act::rsqrt>{});
    case Act::sqrt: return f(std::integral_constant<Act, Act::sqrt>{});
  }
  SP_FAIL("activation: unknown function ", int(a));
}
template <class F>
void dispatch_binary(BinaryOp op, F&& f) {
  switch (op) {
    case BinaryOp::add: return f(std::integral_constant<BinaryOp, BinaryOp::add>{});
    case BinaryOp::sub: return f(std::integral_constant<BinaryOp, BinaryOp::sub>{});
    case BinaryOp::mul: return f(std::integral_constant<BinaryOp, BinaryOp::mul>{});
    case BinaryOp::div: return f(std::integral_constant<BinaryOp, BinaryOp::div>{});
  }
  SP_FAIL("binary: unknown operator ", int(op));
}

}  // namespace sp
