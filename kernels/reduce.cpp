// Kernel objects, validating wrappers and host-side geometry of the reduce family (see reduce.h).
#include "kernels/reduce.h"

#include <cstdlib>

#include "kernels/arg_check.h"
#include "kernels/axpby.h"

namespace sp {

constinit Kernel<ReduceSumFn> k_reduce_sum("reduce_sum");
constinit Kernel<ReduceMaxFn> k_reduce_max("reduce_max");
constinit Kernel<ReduceBackwardFn> k_reduce_backward("reduce_backward");

Shape reduce_keep_shape(const char* op, const Shape& in, const Shape& out) {
  SP_CHECK(out.size() <= in.size(), op, ": target shape ", out, " has more dims than ", in);
  Shape keep;
  int lead = in.size() - out.size();
  for (int d = 0; d < in.size(); ++d) {
    int64_t o = d < lead ? 1 : out[d - lead];
    SP_CHECK(o == in[d] || o == 1, op, ": cannot reduce ", in, " to ", out, " (dim ", d, ": ", in[d], " -> ", o,
             ")");
    keep.push_back(o);
  }
  return keep;
}

Shape reduced_shape(const char* op, const Shape& in, std::span<const int> axes, bool keepdim) {
  SP_CHECK(!axes.empty(), op, ": empty axis list for ", in, " (the overload without axes reduces all of them)");
  bool reduce[Shape::kMaxDims] = {};
  for (int a : axes) {
    int d = in.axis(a, op);
    SP_CHECK(!reduce[d], op, ": axis ", a, " repeated for ", in);
    reduce[d] = true;
  }
  Shape out;
  for (int d = 0; d < in.size(); ++d) {
    if (!reduce[d])
      out.push_back(in[d]);
    else if (keepdim)
      out.push_back(1);
  }
  return out;
}

namespace {
// Appends a dim to an index pair (memory, logical), merging it into the previous one when both steps line
// up, i.e. the two dims are adjacent in the input and contiguous with each other in memory.
void push_dim(Indexer& mem, Indexer& logical, int64_t size, int64_t stride, int64_t lstride) {
  int m = mem.n - 1;
  if (m >= 0 && mem.stride[m] == stride * size && logical.stride[m] == lstride * size) {
    mem.size[m] *= size;
    mem.stride[m] = stride;
    logical.size[m] *= size;
    logical.stride[m] = lstride;
    return;
  }
  mem.size[mem.n] = logical.size[logical.n] = size;
  mem.stride[mem.n++] = stride;
  logical.stride[logical.n++] = lstride;
}
}  // namespace

ReduceGeom make_reduce_geom(const Tensor& in, const Shape& keep) {
  ReduceGeom g;
  Shape lstrides = contiguous_strides(in.shape());
  int64_t min_stride = -1;
  for (int d = 0; d < in.dim(); ++d) {
    int64_t size = in.size(d);
    if (size == 1) continue;
    bool red = keep[d] == 1;
    if (red) {
      push_dim(g.red, g.red_l, size, in.stride(d), lstrides[d]);
      g.inner *= size;
    } else {
      push_dim(g.kept, g.kept_l, size, in.stride(d), lstrides[d]);
      g.outer *= size;
    }
    int64_t a = std::llabs(in.stride(d));
    if (a != 0 && (min_stride < 0 || a <= min_stride)) {
      min_stride = a;
      g.inner_reduced = red;
    }
  }
  return g;
}

StridedIter<1> reduce_backward_iter(const Tensor& gx, const Tensor& gy) {
  return make_strided_iter<1>(gx.shape(), {gy.expand(gx.shape()).strides()});
}

void sum_to_shape(Stream& s, const Tensor& out, const Tensor& in, double alpha, double beta) {
  check_float_operands("sum_to_shape", s, in, {&out});
  Shape keep = reduce_keep_shape("sum_to_shape", in.shape(), out.shape());
  check_contiguous("sum_to_shape", "output", out);
  if (out.numel() == 0) return;
  if (in.numel() == 0) {  // a sum over nothing is 0
    if (beta == 0.0)
      Tensor(out).fill_(0.0, s);  // a handle copy: the elements are shared
    else if (beta != 1.0)
      axpby(s, out, out, beta, 0.0);
    return;
  }
  k_reduce_sum(out.device(), s, out.view(keep), in, alpha, beta);
}

void reduce_max(Stream& s, const Tensor& out, const Tensor& argmax, const Tensor& in) {
  check_float_operands("reduce_max", s, in, {&out});
  SP_CHECK(argmax.defined() && argmax.dtype() == DType::i64 && argmax.device() == in.device() &&
               argmax.shape() == out.shape(),
           "reduce_max: argmax must be I64 with the output's shape and device, got ",
           argmax.defined() ? argmax.str() : "undefined", " for output ", out.str());
  Shape keep = reduce_keep_shape("reduce_max", in.shape(), out.shape());
  check_contiguous("reduce_max", "output", out);
  check_contiguous("reduce_max", "argmax", argmax);
  if (out.numel() == 0) return;
  SP_CHECK(in.numel() > 0, "reduce_max: max over an empty dim of ", in.str(), " into ", out.shape());
  k_reduce_max(out.device(), s, out.view(keep), argmax.view(keep), in);
}

void reduce_backward(Stream& s, const Tensor& gx, const Tensor& gy, const Tensor& argmax, double alpha,
                     double beta) {
  check_float_operands("reduce_backward", s, gx, {&gy});
  Shape keep = reduce_keep_shape("reduce_backward", gx.shape(), gy.shape());
  check_contiguous("reduce_backward", "input gradient", gx);
  check_contiguous("reduce_backward", "output gradient", gy);
  if (argmax.defined()) {
    SP_CHECK(argmax.dtype() == DType::i64 && argmax.device() == gy.device() && argmax.shape() == gy.shape(),
             "reduce_backward: argmax ", argmax.str(), " does not match the output gradient ", gy.str());
    check_contiguous("reduce_backward", "argmax", argmax);
  }
  if (gx.numel() == 0) return;
  k_reduce_backward(gx.device(), s, gx, gy.view(keep), argmax.defined() ? argmax.view(keep) : Tensor(), alpha,
                    beta);
}

}  // namespace sp
