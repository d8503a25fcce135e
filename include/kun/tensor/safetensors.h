// Tensor files in the safetensors layout (the format Hugging Face tools read and write):
//   [u64 little-endian header length N][N bytes of JSON header, space padded][raw data]
// The header maps each tensor name to {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}
// (offsets relative to the start of the data section) plus an optional "__metadata__" map of
// string -> string. kun adds "format": "kun" and "version": "1" to the metadata it writes.
#pragma once
#include <map>
#include <string>

#include "kun/tensor/tensor_dict.h"

namespace kun::safetensors {

inline constexpr const char* kFormatVersion = "1";

struct File {
  TensorDict tensors;                          // in header order
  std::map<std::string, std::string> metadata;  // the "__metadata__" strings (empty if none)
};

// Writes atomically: the bytes go to "<path>.tmp-<pid>", are fsync'ed, then renamed over `path`,
// so a crash never leaves a half-written file. Throws IOError naming the file on failure.
void save(const std::string& path, const TensorDict& tensors, const std::map<std::string, std::string>& metadata = {});

// Reads and validates the whole header before touching any data: header length vs file size,
// JSON syntax, dtype names, shapes, offsets in range / non-overlapping / matching shape*dtype.
// Any problem is one IOError line naming the file and what is wrong.
File load(const std::string& path);

// Parses the safetensors dtype name ("F32", "I64", "BOOL", ...); the reverse of dtype_code().
DType dtype_from_code(const std::string& code);  // throws ValueError for unsupported names
const char* dtype_code(DType dt);

}  // namespace kun::safetensors
