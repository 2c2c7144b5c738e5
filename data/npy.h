// NumPy .npy files: header parsing/validation, a reader that copies any element range straight into a
// caller buffer (so large arrays can be streamed in chunks without a second copy), a streaming writer and
// whole-array helpers. Supported: format versions 1.0/2.0/3.0 on read, 1.0 on write unless the header
// needs 2.0; little-endian, C order; dtypes bool, u8, i32, i64, f16, f32, f64. Writes are atomic (temporary
// file + fsync + rename). Every error names the file. Tested in tests/test_npy.cpp (round trips, headers,
// corrupt files, numpy interoperability).
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "kernels/dtype.h"
#include "kernels/tensor.h"

namespace sp::npy {

struct Header {
  DType dtype = DType::f32;
  std::vector<int64_t> shape;  // empty for a 0-d array
  int64_t numel = 1;
  size_t data_offset = 0;  // bytes before the first element
  int version = 1;         // major format version
};

// The descr string numpy uses for a dtype ('<f4', '|b1', ...); throws for bf16, which numpy lacks.
std::string descr_of(DType dt);
// "(3, 4)" / "(3,)" / "()", as numpy spells shapes.
std::string shape_str(std::span<const int64_t> shape);

// Parses and validates the header text (the dict between the length field and the data) of `path`.
// Exposed for tests; Reader calls it.
Header parse_header_dict(const std::string& path, const std::string& dict);

class Reader {
 public:
  explicit Reader(std::string path);  // opens the file and validates header and file size
  ~Reader();
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;

  const std::string& path() const { return path_; }
  const Header& header() const { return h_; }
  DType dtype() const { return h_.dtype; }
  const std::vector<int64_t>& shape() const { return h_.shape; }
  int64_t numel() const { return h_.numel; }

  // Copies elements [first, first + count) (flat C-order index, the file's dtype) into dst, which must
  // hold count * dtype_size bytes. Safe to call from several threads at once.
  void read(void* dst, int64_t first, int64_t count) const;
  // The whole array as T; T must be the file's dtype exactly (no silent conversion).
  template <class T>
  std::vector<T> read_all() const {
    SP_CHECK(dtype_v<T> == h_.dtype, path_, ": expected dtype ", descr_of(dtype_v<T>), ", file has ",
             descr_of(h_.dtype));
    std::vector<T> v(size_t(h_.numel));
    read(v.data(), 0, h_.numel);
    return v;
  }
  // The whole array converted to int64; the file must hold bool or an integer dtype.
  std::vector<int64_t> read_integers() const;
  // The same for class labels and indices, where a bool array is a mistake (a mask saved in the wrong
  // file), not labels 0 and 1: only integer dtypes are accepted.
  std::vector<int64_t> read_labels() const;

 private:
  std::string path_;
  int fd_ = -1;
  Header h_;
};

// Streams an array to disk: the header is written first, then elements in C order with append(); commit()
// checks that exactly numel elements arrived and renames the temporary file onto `path`. Destroying an
// uncommitted writer removes the temporary file, so a failed run never leaves a half-written array.
class Writer {
 public:
  Writer(std::string path, DType dt, std::span<const int64_t> shape);
  ~Writer();
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;
  void append(const void* data, int64_t count);  // count elements of the writer's dtype
  void commit();

 private:
  std::string path_, tmp_;
  int fd_ = -1;
  DType dt_;
  int64_t numel_ = 1, written_ = 0;
};

// Writes a whole array (data holds numel * dtype_size bytes).
void write(const std::string& path, DType dt, std::span<const int64_t> shape, const void* data);
template <class T>
void write(const std::string& path, std::span<const int64_t> shape, const std::vector<T>& v) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  SP_CHECK(int64_t(v.size()) == n, path, ": ", v.size(), " values for shape ", shape_str(shape));
  write(path, dtype_v<T>, shape, v.data());
}
// std::vector<bool> is bit-packed; masks are passed as uint8 0/1 and stored as numpy bool.
void write_bool(const std::string& path, std::span<const int64_t> shape, const std::vector<uint8_t>& v);

// Tensor helpers: load gives a contiguous CPU tensor; save accepts any tensor (copied to a contiguous CPU
// tensor first).
Tensor load(const std::string& path);
void save(const std::string& path, const Tensor& t);

}  // namespace sp::npy
