// oneDNN engine, per-thread streams and thread count (see dnnl_util.h).
#include "kernels/cpu/dnnl_util.h"

#include <dlfcn.h>

#include <sstream>

#include "kernels/cpu/parallel.h"

namespace sp::cpu::dnnl_rt {

dnnl::engine& engine() {
  static dnnl::engine e = [] {
    dnnl::engine made;
    SP_DNNL("oneDNN: creating the CPU engine", made = dnnl::engine(dnnl::engine::kind::cpu, 0));
    return made;
  }();
  return e;
}

namespace {
// oneDNN runs its primitives on OpenMP (Debian's build links libgomp). Here every primitive runs on one
// thread, the thread that calls it, and the parallelism comes from the project's own pool splitting the batch
// (dnnl_conv.cpp): OpenMP's thread count is a per-thread setting, so every thread that runs primitives sets
// it to 1 before it creates any. That keeps results independent of the thread count (oneDNN's threaded
// filter gradient splits its sum over the batch by thread), and keeps OpenMP's spinning threads from
// competing with the pool. The symbol is looked up at run time because it comes with oneDNN's own
// dependency, not with a library this project links.
void use_one_openmp_thread() {
  using SetFn = void (*)(int);
  static SetFn set = reinterpret_cast<SetFn>(dlsym(RTLD_DEFAULT, "omp_set_num_threads"));
  SP_CHECK(set, "oneDNN: omp_set_num_threads was not found in the process (oneDNN built without OpenMP?); ",
           "this build expects Debian's OpenMP oneDNN (libdnnl-dev), or configure with -DSP_DNNL=OFF");
  set(1);
}
}  // namespace

dnnl::stream& stream() {
  thread_local dnnl::stream s = [] {
    use_one_openmp_thread();
    dnnl::stream made;
    SP_DNNL("oneDNN: creating a CPU stream", made = dnnl::stream(engine()));
    return made;
  }();
  return s;
}

std::string describe() {
  const dnnl_version_t* v = dnnl_version();
  std::ostringstream os;
  const int n = hardware_threads();
  os << "oneDNN " << v->major << "." << v->minor << "." << v->patch << ", batch split over " << n
     << (n == 1 ? " thread" : " threads");
  return os.str();
}

void fail(const char* file, int line, const std::string& what, const dnnl::error& e) {
  detail::fail(file, line, what, ": oneDNN status ", int(e.status), " (", e.what(), ")");
}

}  // namespace sp::cpu::dnnl_rt
