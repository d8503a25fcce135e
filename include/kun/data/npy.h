// NumPy .npy files (format versions 1.0, 2.0, 3.0): little-endian float32, float64, int64, int32,
// uint8 and bool, C order.
#pragma once
#include <string>

#include "kun/tensor/tensor.h"

namespace kun::data {

struct NpyOptions {
  bool allow_nonfinite = false;  // NaN/inf in float data is an error unless allowed
};

// Reads a .npy file. Throws IOError for a missing/unreadable/truncated file or a bad header, and
// TypeError for an unsupported dtype, big-endian data or Fortran order (with a hint to convert), and
// ValueError for NaN/inf in float data unless opts.allow_nonfinite.
Tensor read_npy(const std::string& path, const NpyOptions& opts = {});

// Writes t in C order (non-contiguous tensors are copied first). Writes to a temporary file and
// renames it into place.
void write_npy(const std::string& path, const Tensor& t);

}  // namespace kun::data
