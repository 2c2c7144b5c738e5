// Checkpoints in the safetensors format: an 8-byte little-endian header length, a JSON header mapping each
// tensor name to {"dtype", "shape", "data_offsets": [begin, end]} (plus an optional "__metadata__" string
// map), padded with spaces to a multiple of 8 bytes, then the raw little-endian data, contiguous from offset 0.
// Files written here load in the Python safetensors package and vice versa. Writes are atomic (temporary file
// in the same directory, fsync, rename); reads validate every field and throw sp::Error naming the file.
// Tested in tests/test_checkpoint.cpp (round trips, every corruption case, atomicity, the golden files).
#pragma once
#include <map>
#include <string>

#include "kernels/tensor.h"

namespace sp {

struct TensorFile {
  std::string path;
  std::map<std::string, Tensor> tensors;  // contiguous CPU tensors
  std::map<std::string, std::string> metadata;
  std::map<std::string, std::pair<DType, Shape>> shapes;  // read_safetensors_header only
  bool contains(const std::string& name) const { return tensors.count(name) != 0; }
  const Tensor& at(const std::string& name) const;  // throws naming the file and the tensor
};

// Writes `tensors` (any dtype, CPU or CUDA; CUDA tensors are copied to the host on s, which must be a stream
// of their device) to path via path.tmp.<pid> + fsync + rename: either the complete new file is at path
// afterwards or the previous content is untouched. Throws sp::Error naming the path on failure.
void save_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata = {}, Stream& s = Stream::cpu());

// Reads and validates a whole file into CPU tensors.
TensorFile load_safetensors(const std::string& path);
// The same checks of the header and of the file's length without reading any data: metadata and `shapes`
// (tensors stays empty). For checking many large files before work starts.
TensorFile read_safetensors_header(const std::string& path);

}  // namespace sp
