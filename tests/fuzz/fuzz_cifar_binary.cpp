// Fuzz target: a CIFAR-10 binary batch (data/cifar_binary.h: records of one label byte and 3,072 pixel bytes),
// as sp_data and the dataset loader read data_batch_N.bin.
#include "data/cifar_binary.h"
#include "tests/fuzz/fuzz_util.h"

SP_FUZZ_TARGET(cifar_binary) {
  using namespace sp;
  const std::string path = fuzz::write_input("cifar/data_batch_1.bin", data, size);
  if (fuzz::accepts([&] { data::read_cifar10_batch(path); }, path)) ++fuzz::accepted_count();
  return 0;
}
