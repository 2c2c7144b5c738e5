// Kernel registry bookkeeping (see registry.h). Tested in tests/test_op_coverage.cpp.
#include "kernels/registry.h"

#include <algorithm>

namespace sp {

std::vector<const KernelBase*>& kernel_list() {
  static std::vector<const KernelBase*> list;  // function-local: safe during static initialisation
  return list;
}

void register_kernel_impl(KernelBase& k, Backend b) {
  auto& l = kernel_list();
  if (std::find(l.begin(), l.end(), &k) == l.end()) l.push_back(&k);
  k.has_[int(b)] = true;
}

}  // namespace sp
