// Storage for the op-name registry (see op_registry.h).
#include "nn/op_registry.h"

namespace sp {
std::set<std::string>& registered_ops() {
  static std::set<std::string> ops;
  return ops;
}
}  // namespace sp
