// Fuzz target: NumPy .npy files (data/npy.h), as sp_lira and sp_train read labels, masks and logits. The input
// is the whole file; every reader of it runs: the header and size checks, the element copy in the file's own
// dtype, the integer and label readers, and the tensor loader.
#include <vector>

#include "data/npy.h"
#include "tests/fuzz/fuzz_util.h"

SP_FUZZ_TARGET(npy) {
  using namespace sp;
  const std::string path = fuzz::write_input("input.npy", data, size);
  bool ok = fuzz::accepts(
      [&] {
        npy::Reader r(path);
        // The reader checked the file size against the shape, so this buffer is at most the file's size.
        std::vector<uint8_t> all(size_t(r.numel()) * dtype_size(r.dtype()));
        r.read(all.data(), 0, r.numel());
        if (r.numel() > 1) r.read(all.data(), r.numel() - 1, 1);
      },
      path);
  if (ok) ++fuzz::accepted_count();
  fuzz::accepts([&] { npy::Reader(path).read_integers(); }, path);
  fuzz::accepts([&] { npy::Reader(path).read_labels(); }, path);
  fuzz::accepts([&] { npy::load(path); }, path);
  return 0;
}
