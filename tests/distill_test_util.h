// A tiny distillation configuration for the distiller tests (tests/test_distill.cpp and
// tests/gpu/test_distill_gpu.cpp): 2 images per class, real batches of 6, 2 x 2 DC loops with several inner
// batches, DSA for DSA and DM, a narrow ConvNet-3.
#pragma once
#include "paradigms/distill/distill_config.h"

namespace sp::test {

inline distill::DistillConfig tiny_distill_config(distill::Method m, int64_t ipc = 2, int64_t width = 4) {
  distill::DistillConfig c;
  c.method = m;
  c.ipc = ipc;
  c.batch_real = 6;
  c.outer_loop = 2;
  c.inner_loop = 2;
  c.batch_train = 7;  // several inner batches
  c.lr_img = m == distill::Method::dm ? 1.0 : 0.1;
  c.dsa = m != distill::Method::dc;
  c.strategy = dsa::parse_strategy(c.dsa_strategy);
  c.net.name = "convnet3";
  c.net.width = width;
  return c;
}

}  // namespace sp::test
