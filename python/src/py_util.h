// Helpers shared by the bindings of the Python module (python/src/*.cpp): NumPy arguments viewed in place when
// they already are C-contiguous arrays of the wanted dtype (converted once otherwise), checks whose messages name
// the argument and its shape, keep masks as 0/1 bytes, results handed to NumPy without a copy, and JSON documents
// as Python objects. Every check throws sp::Error, which the module raises as synpriv.Error (a ValueError).
// Tested through python/tests/ (test_errors.py above all).
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "kernels/error.h"

namespace sp::py {

namespace py = pybind11;

// A C-contiguous array of T: no copy when the argument already is one, else numpy's conversion.
template <class T>
using carray = py::array_t<T, py::array::c_style | py::array::forcecast>;

// "(3, 4)", as numpy prints shapes.
inline std::string shape_str(const py::array& a) {
  std::string s = "(";
  for (py::ssize_t d = 0; d < a.ndim(); ++d) s += (d ? ", " : "") + std::to_string(a.shape(d));
  return s + (a.ndim() == 1 ? ",)" : ")");
}

inline std::string ndims_str(std::initializer_list<int> ndims) {
  std::string s;
  size_t k = 0;
  for (int n : ndims) s += (k++ ? (k == ndims.size() ? " or " : ", ") : "") + std::to_string(n);
  return s;
}

// `obj` as an array with one of the given numbers of dimensions (not converted yet).
inline py::array as_ndarray(py::handle obj, const char* name, std::initializer_list<int> ndims) {
  SP_CHECK(!obj.is_none(), name, ": an array is required, got None");
  py::array a = py::array::ensure(obj);
  SP_CHECK(a, name, ": expected a NumPy array, got ", std::string(py::str(py::type::of(obj))));
  bool ok = false;
  for (int n : ndims) ok = ok || a.ndim() == n;
  SP_CHECK(ok, name, ": expected ", ndims_str(ndims), " dimensions, got shape ", shape_str(a));
  return a;
}

// Floating-point data (float32 stays float32 with T = float; integers and bools are refused).
template <class T>
carray<T> float_array(py::handle obj, const char* name, std::initializer_list<int> ndims) {
  py::array a = as_ndarray(obj, name, ndims);
  const char kind = a.dtype().kind();
  SP_CHECK(kind == 'f', name, ": expected floating-point values, got dtype ", std::string(py::str(a.dtype())));
  return carray<T>::ensure(a);
}

// Integer data (labels, group values): bool and floats are refused, so 2.7 never becomes the label 2.
inline carray<int64_t> int_array(py::handle obj, const char* name, std::initializer_list<int> ndims) {
  py::array a = as_ndarray(obj, name, ndims);
  const char kind = a.dtype().kind();
  SP_CHECK(kind == 'i' || kind == 'u', name, ": expected integers, got dtype ", std::string(py::str(a.dtype())));
  return carray<int64_t>::ensure(a);
}

// A membership mask (keep[s, i]: model s trained on sample i) as 0/1 bytes: a bool array is viewed in place;
// integers must be 0 or 1 (the index of the first other value is named).
inline carray<uint8_t> mask_array(py::handle obj, const char* name, std::initializer_list<int> ndims) {
  py::array a = as_ndarray(obj, name, ndims);
  const char kind = a.dtype().kind();
  if (kind == 'b') {
    carray<bool> b = carray<bool>::ensure(a);
    std::vector<py::ssize_t> shape(b.shape(), b.shape() + b.ndim());
    // numpy's bool is one byte holding 0 or 1: view it as uint8 (the view keeps `b` alive).
    return carray<uint8_t>(shape, reinterpret_cast<const uint8_t*>(b.data()), b);
  }
  SP_CHECK(kind == 'i' || kind == 'u', name, ": expected a bool (or 0/1 integer) mask, got dtype ",
           std::string(py::str(a.dtype())));
  carray<int64_t> v = carray<int64_t>::ensure(a);
  std::vector<py::ssize_t> shape(v.shape(), v.shape() + v.ndim());
  carray<uint8_t> out(shape);
  uint8_t* o = out.mutable_data();
  for (py::ssize_t k = 0; k < v.size(); ++k) {
    const int64_t x = v.data()[k];
    SP_CHECK(x == 0 || x == 1, name, ": entry ", k, " (flat index) is ", x, ", not 0/1");
    o[k] = uint8_t(x);
  }
  return out;
}

// Moves a vector into a NumPy array of the given shape without copying its elements.
template <class T>
py::array_t<T> to_numpy(std::vector<T>&& v, std::vector<py::ssize_t> shape) {
  auto* heap = new std::vector<T>(std::move(v));
  py::capsule owner(heap, [](void* p) { delete static_cast<std::vector<T>*>(p); });
  return py::array_t<T>(shape, heap->data(), owner);
}

// Checks a name-valued option against its choices.
inline void check_choice(const std::string& value, const char* option, std::initializer_list<const char*> choices) {
  std::string list;
  for (const char* c : choices) {
    if (value == c) return;
    list += (list.empty() ? "" : ", ") + std::string(c);
  }
  SP_FAIL(option, ": '", value, "' is not one of ", list);
}

// An nlohmann document as Python objects (dict keeps the document's key order; null becomes None).
template <class J>
py::object json_to_py(const J& j) {
  switch (j.type()) {
    case J::value_t::null:
      return py::none();
    case J::value_t::boolean:
      return py::bool_(j.template get<bool>());
    case J::value_t::number_integer:
      return py::int_(j.template get<int64_t>());
    case J::value_t::number_unsigned:
      return py::int_(j.template get<uint64_t>());
    case J::value_t::number_float:
      return py::float_(j.template get<double>());
    case J::value_t::string:
      return py::str(j.template get<std::string>());
    case J::value_t::array: {
      py::list l;
      for (const auto& e : j) l.append(json_to_py(e));
      return l;
    }
    case J::value_t::object: {
      py::dict d;
      for (auto it = j.begin(); it != j.end(); ++it) d[py::str(it.key())] = json_to_py(it.value());
      return d;
    }
    default:
      SP_FAIL("json_to_py: unsupported JSON value (binary)");
  }
}

}  // namespace sp::py
