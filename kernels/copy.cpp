// Kernel objects of the copy family (implementations: kernels/cpu/copy.cpp, kernels/cuda/copy.cu).
#include "kernels/copy.h"

namespace sp {
constinit Kernel<CopyFn> k_copy("copy");
constinit Kernel<FillFn> k_fill("fill");
}  // namespace sp
