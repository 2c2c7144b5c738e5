// Per-row math of the training-metric kernels, shared by the CPU and CUDA backends: the predicted class is
// the first index of the row maximum (NaN never wins, so a NaN row predicts class 0 and counts as wrong
// unless the label is 0; training guards NaN losses separately).
#pragma once
#include <cstdint>

#include "kernels/hd.h"

namespace sp {

template <class T>
SP_HD int64_t row_argmax(const T* row, int64_t c) {
  int64_t best = 0;
  T bv = row[0];
  for (int64_t j = 1; j < c; ++j)
    if (row[j] > bv || !(bv == bv)) {
      bv = row[j];
      best = j;
    }
  return best;
}

}  // namespace sp
