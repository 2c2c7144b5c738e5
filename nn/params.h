// ParamLayout: the named layout of one flat buffer. A model's parameters live in ONE contiguous tensor [P]
// (or a stack [n_models, P]); each named parameter is a fixed range of it, so optimisers, checkpoints and
// per-model stacks work on plain flat tensors. The same class lays out the non-trainable buffers (BN running
// statistics) in a second flat buffer. Nothing here owns a tensor: views are taken of whatever flat vector
// the caller passes, so forward(theta, x) runs on any parameter vector. Tested in tests/test_params.cpp.
#pragma once
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "kernels/tensor.h"
#include "nn/tape.h"

namespace sp {

struct ParamSpec {
  std::string name;    // "layer1.0.conv1.weight"
  Shape shape;
  int64_t offset = 0;  // first element in the flat buffer
  bool decay = true;   // does weight decay apply (false for e.g. BN affine parameters when so configured)
  int64_t numel() const { return shape.numel(); }
};

class ParamLayout {
 public:
  // Appends a parameter after the previous ones and returns its offset. Names must be unique and non-empty.
  int64_t add(const std::string& name, const Shape& shape, bool decay = true);

  int64_t numel() const { return numel_; }
  int size() const { return int(specs_.size()); }
  const std::vector<ParamSpec>& specs() const { return specs_; }
  bool contains(std::string_view name) const { return find(name) != nullptr; }
  const ParamSpec* find(std::string_view name) const;  // nullptr when absent
  const ParamSpec& at(std::string_view name) const;    // throws naming the parameter

  // View of parameter `name` in a contiguous flat buffer whose last dimension is numel(): [P] gives the
  // parameter's shape, a stack [n, P] gives [n, *shape] (row stride P). Shares storage with `flat`.
  Tensor view(const Tensor& flat, std::string_view name) const;
  // The same inside autograd: theta is a contiguous var of numel() elements; the view's gradient lands in
  // theta's flat gradient (Tape::view).
  Var view(Tape& t, Var theta, std::string_view name) const;

  // u8 [P] with 1 where weight decay applies, on s's device (for the optimisers' decay mask).
  Tensor decay_mask(Stream& s = Stream::cpu()) const;

  // Named views of a flat buffer ([P] only), keyed prefix + name: what a checkpoint writes.
  std::map<std::string, Tensor> named(const Tensor& flat, const std::string& prefix = "") const;
  // Copies every parameter prefix + name from `src` into its range of `flat` (dtype converted, any device).
  // Throws naming the first missing key or mismatched shape; keys in src outside the layout are ignored.
  void load(const Tensor& flat, const std::map<std::string, Tensor>& src, const std::string& prefix = "",
            Stream& s = Stream::cpu()) const;

 private:
  void check_flat(const Tensor& flat, const char* who) const;
  std::vector<ParamSpec> specs_;
  std::unordered_map<std::string, int> index_;
  int64_t numel_ = 0;
};

}  // namespace sp
