// Flat parameter layout and named views (see params.h). Tested in tests/test_params.cpp.
#include "nn/params.h"

#include <cmath>

namespace sp {

int64_t ParamLayout::add(const std::string& name, const Shape& shape, bool decay) {
  SP_CHECK(!name.empty(), "ParamLayout::add: empty parameter name");
  SP_CHECK(!index_.count(name), "ParamLayout::add: duplicate parameter '", name, "'");
  for (int64_t d : shape) SP_CHECK(d >= 0, "ParamLayout::add: parameter '", name, "' has negative size in ", shape);
  int64_t off = numel_;
  index_.emplace(name, int(specs_.size()));
  specs_.push_back({name, shape, off, decay});
  numel_ += shape.numel();
  return off;
}

const ParamSpec* ParamLayout::find(std::string_view name) const {
  auto it = index_.find(std::string(name));
  return it == index_.end() ? nullptr : &specs_[it->second];
}

const ParamSpec& ParamLayout::at(std::string_view name) const {
  const ParamSpec* p = find(name);
  SP_CHECK(p, "ParamLayout: no parameter named '", name, "' (layout has ", specs_.size(), " parameters)");
  return *p;
}

void ParamLayout::check_flat(const Tensor& flat, const char* who) const {
  SP_CHECK(flat.defined() && flat.dim() >= 1 && flat.size(-1) == numel_ && flat.is_contiguous(), who,
           ": flat buffer ", flat.defined() ? flat.str() : std::string("(undefined)"),
           " must be contiguous with last dimension ", numel_);
}

Tensor ParamLayout::view(const Tensor& flat, std::string_view name) const {
  check_flat(flat, "ParamLayout::view");
  const ParamSpec& p = at(name);
  Shape shape, strides;
  for (int d = 0; d + 1 < flat.dim(); ++d) {  // stacked models: keep the leading dims
    shape.push_back(flat.size(d));
    strides.push_back(flat.stride(d));
  }
  Shape inner = contiguous_strides(p.shape);
  for (int d = 0; d < p.shape.size(); ++d) {
    shape.push_back(p.shape[d]);
    strides.push_back(inner[d]);
  }
  return flat.as_strided(shape, strides, flat.offset() + p.offset);
}

Var ParamLayout::view(Tape& t, Var theta, std::string_view name) const {
  const Tensor& v = t.value(theta);
  SP_CHECK(v.numel() == numel_, "ParamLayout::view: theta ", v.str(), " does not hold the layout's ", numel_,
           " parameters");
  const ParamSpec& p = at(name);
  return t.view(theta, p.offset, p.shape);
}

Tensor ParamLayout::decay_mask(Stream& s) const {
  std::vector<uint8_t> m(size_t(numel_), 0);
  for (const ParamSpec& p : specs_)
    if (p.decay) std::fill(m.begin() + p.offset, m.begin() + p.offset + p.numel(), uint8_t(1));
  return Tensor::from_vector(m, {numel_}).to(s.device(), s);
}

std::map<std::string, Tensor> ParamLayout::named(const Tensor& flat, const std::string& prefix) const {
  check_flat(flat, "ParamLayout::named");
  SP_CHECK(flat.dim() == 1, "ParamLayout::named: expects one flat vector [", numel_, "], got ", flat.str());
  std::map<std::string, Tensor> out;
  for (const ParamSpec& p : specs_) out.emplace(prefix + p.name, view(flat, p.name));
  return out;
}

namespace {

// Index of the first NaN or infinity of a contiguous host float tensor, or -1.
int64_t first_non_finite(const Tensor& t) {
  const int64_t n = t.numel();
  if (t.dtype() == DType::f32) {
    const float* p = t.data<float>();
    for (int64_t i = 0; i < n; ++i)
      if (!std::isfinite(p[i])) return i;
  } else {
    const double* p = t.data<double>();
    for (int64_t i = 0; i < n; ++i)
      if (!std::isfinite(p[i])) return i;
  }
  return -1;
}

}  // namespace

void ParamLayout::load(const Tensor& flat, const std::map<std::string, Tensor>& src, const std::string& prefix,
                       Stream& s) const {
  check_flat(flat, "ParamLayout::load");
  SP_CHECK(flat.dim() == 1, "ParamLayout::load: expects one flat vector [", numel_, "], got ", flat.str());
  for (const ParamSpec& p : specs_) {
    auto it = src.find(prefix + p.name);
    SP_CHECK(it != src.end(), "ParamLayout::load: missing '", prefix + p.name, "'");
    const Tensor& t = it->second;
    SP_CHECK(t.shape() == p.shape, "ParamLayout::load: '", prefix + p.name, "' is ", t.str(),
             ", layout expects shape ", p.shape);
    // Parameters are real numbers stored as float32 or float64; an integer, bool or half-precision tensor
    // under a parameter's name is a wrong or corrupt file, not something to convert.
    SP_CHECK(t.dtype() == DType::f32 || t.dtype() == DType::f64, "ParamLayout::load: '", prefix + p.name,
             "' has dtype ", dtype_name(t.dtype()), "; parameters must be float32 or float64");
    // Tensors read from files live in host memory: a NaN or infinite weight would make every output NaN.
    if (t.device().is_cpu() && t.is_contiguous()) {
      const int64_t bad = first_non_finite(t);
      SP_CHECK(bad < 0, "ParamLayout::load: '", prefix + p.name, "' holds a non-finite value at element ", bad);
    }
    view(flat, p.name).copy_(t, s);
  }
}

}  // namespace sp
