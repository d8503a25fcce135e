// IDX files (the MNIST family): big-endian header, then the items. Plain or gzip (detected from
// the first two bytes, not from the name).
//   magic: 0x00 0x00 <type> <ndim>   type 0x08 u8, 0x09 i8, 0x0B i16, 0x0C i32, 0x0D f32, 0x0E f64
//   ndim big-endian uint32 extents, then the data in row-major order.
#pragma once
#include <string>

#include "kun/tensor/tensor.h"

namespace kun::data {

struct IdxOptions {
  bool allow_nonfinite = false;  // NaN/inf in float data is an error unless allowed
};

// Reads an IDX file into a tensor of the header's shape. dtype: u8 -> uint8, i8/i16/i32 -> int32,
// f32 -> float32, f64 -> float64. Throws IOError (missing/unreadable file, bad magic, truncated
// data, a header whose sizes cannot fit the file) naming the file and byte offset, and ValueError
// for NaN/inf in float data unless opts.allow_nonfinite.
Tensor read_idx(const std::string& path, const IdxOptions& opts = {});

// Writes t (uint8, int32, float32 or float64) as IDX; gzip-compressed when `gzip` is true.
// Writes to a temporary file and renames it into place.
void write_idx(const std::string& path, const Tensor& t, bool gzip = false);

}  // namespace kun::data
