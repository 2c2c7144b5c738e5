// Fuzz target: safetensors files (nn/safetensors.h) as the tools read them: the whole-file loader, the
// header-only check, a model file loaded into a model (paradigms/engine/model_file.h: names, shapes, dtypes,
// finite values) and an epoch checkpoint restored into a Trainer (paradigms/engine/train_state.h).
#include "nn/safetensors.h"
#include "paradigms/engine/model_file.h"
#include "paradigms/engine/train_state.h"
#include "tests/fuzz/fuzz_model.h"
#include "tests/fuzz/fuzz_util.h"

SP_FUZZ_TARGET(safetensors) {
  using namespace sp;
  static fuzz::SmallModel m;
  const std::string path = fuzz::write_input("input.safetensors", data, size);
  bool ok = fuzz::accepts([&] { load_safetensors(path); }, path);
  if (ok) ++fuzz::accepted_count();
  fuzz::accepts([&] { read_safetensors_header(path); }, path);
  fuzz::accepts([&] { load_model(path, *m.model, m.trainer->theta(), m.trainer->buffers()); }, path);
  fuzz::accepts([&] { load_train_state(path, *m.trainer, fuzz::kCheckpointTag, Stream::cpu()); }, path);
  return 0;
}
