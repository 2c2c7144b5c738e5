// Precision names, resolution per device and the stream policy of each (see precision.h).
#include "nn/precision.h"

#include "kernels/error.h"

namespace sp {

const std::vector<std::string>& precision_names() {
  static const std::vector<std::string> names = {"auto", "fp32", "tf32", "bf16"};
  return names;
}

Precision parse_precision(const std::string& name) {
  if (name == "auto") return Precision::automatic;
  if (name == "fp32") return Precision::fp32;
  if (name == "tf32") return Precision::tf32;
  if (name == "bf16") return Precision::bf16;
  SP_FAIL("precision '", name, "' is not one of auto, fp32, tf32, bf16");
}

const char* precision_name(Precision p) {
  switch (p) {
    case Precision::fp32: return "fp32";
    case Precision::tf32: return "tf32";
    case Precision::bf16: return "bf16";
    default: return "auto";
  }
}

Precision resolve_precision(Precision p, const Stream& s) {
  if (p != Precision::automatic) return p;
  return s.is_cuda() ? Precision::tf32 : Precision::fp32;
}

void apply_precision(Stream& s, Precision resolved) {
  SP_CHECK(resolved != Precision::automatic, "apply_precision: resolve 'auto' for the device first");
  s.allow_tf32 = resolved != Precision::fp32;
}

}  // namespace sp
