// The thread's active LayerTrace (see layer_trace.h).
#include "nn/layer_trace.h"

#include "kernels/error.h"

namespace sp {

namespace {
thread_local LayerTrace* g_active = nullptr;
}

LayerTrace::LayerTrace() {
  SP_CHECK(g_active == nullptr, "LayerTrace: a trace is already active on this thread");
  g_active = this;
}

LayerTrace::~LayerTrace() { g_active = nullptr; }

LayerTrace* LayerTrace::active() { return g_active; }

}  // namespace sp
