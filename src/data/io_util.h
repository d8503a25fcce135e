// Internal helpers shared by the file readers: whole-file reads and atomic writes.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "kun/tensor/tensor.h"

namespace kun::data::detail {

// Size in bytes of a regular file; throws IOError naming `op` and the path if it is missing,
// a directory or unreadable.
uint64_t file_size_or_throw(const std::string& path, const char* op);

// Whole file into memory (after file_size_or_throw).
std::vector<char> read_file_or_throw(const std::string& path, const char* op);

// Throws ValueError naming the first NaN/inf of a float tensor read from `path` (element index and
// byte offset in the file, data starting at `data_offset` with `file_elem_size` bytes per element).
void check_finite(const Tensor& t, const std::string& path, const char* op, uint64_t data_offset,
                  uint64_t file_elem_size);

// Writes `bytes` to path.tmp.<pid> then renames it over path, so a crash never leaves a half file.
void write_file_atomic(const std::string& path, const void* bytes, size_t n, const char* op);

}  // namespace kun::data::detail
