// Reduction kernels: sum (also the `sum_to_shape` that folds a broadcast gradient back onto an input's
// shape, and mean via alpha), max with argmax, and their backward (spreading a gradient back over the
// reduced dims). The reduced dims are those where the output has size 1 and the input does not; the output
// shape aligns with the input's on the right (missing leading dims count as 1), so [4] is a valid target of
// [2, 3, 4] and so is [1, 3, 1]. Inputs may be strided; outputs are contiguous. Per-element pieces:
// reduce_math.h. Tested in tests/test_ops_reduce.cpp and tests/gpu/test_ops_reduce_gpu.cpp.
#pragma once
#include <span>

#include "kernels/reduce_math.h"
#include "kernels/registry.h"
#include "kernels/strided_iter.h"
#include "kernels/tensor.h"

namespace sp {

// The kernels receive `out`, `argmax` and `gy` viewed with the input's rank (keepdim layout).
// out = alpha * sum + beta * out.
using ReduceSumFn = void(Stream&, const Tensor& out, const Tensor& in, double alpha, double beta);
// out = max; argmax (I64) = row-major index into `in` of the first maximum (NaN counts as the largest).
using ReduceMaxFn = void(Stream&, const Tensor& out, const Tensor& argmax, const Tensor& in);
// gx = alpha * g + beta * gx where g is gy broadcast to gx's shape, or -- when argmax is defined -- gy
// placed at each output's argmax and 0 elsewhere.
using ReduceBackwardFn = void(Stream&, const Tensor& gx, const Tensor& gy, const Tensor& argmax, double alpha,
                              double beta);
extern Kernel<ReduceSumFn> k_reduce_sum;
extern Kernel<ReduceMaxFn> k_reduce_max;
extern Kernel<ReduceBackwardFn> k_reduce_backward;

// Validating wrappers. A sum over no elements is 0; a max over none throws.
void sum_to_shape(Stream& s, const Tensor& out, const Tensor& in, double alpha = 1.0, double beta = 0.0);
void reduce_max(Stream& s, const Tensor& out, const Tensor& argmax, const Tensor& in);
void reduce_backward(Stream& s, const Tensor& gx, const Tensor& gy, const Tensor& argmax, double alpha,
                     double beta);

// `out` (a reduction target of `in`, see above) with leading 1s added to reach in's rank; throws naming op.
Shape reduce_keep_shape(const char* op, const Shape& in, const Shape& out);
// Output shape of reducing `in` over `axes` (negative counts from the end; no repeats; non-empty).
Shape reduced_shape(const char* op, const Shape& in, std::span<const int> axes, bool keepdim);
// Geometry of reducing `in` into the keepdim shape `keep` (size-1 dims dropped, mergeable dims merged).
ReduceGeom make_reduce_geom(const Tensor& in, const Shape& keep);
// Iteration over gx (contiguous) giving, for each element, the offset of its output in a contiguous keepdim
// gy: the indexing of the backward kernel.
StridedIter<1> reduce_backward_iter(const Tensor& gx, const Tensor& gy);

}  // namespace sp
