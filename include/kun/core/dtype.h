// Element types. Compute is float32; float64 serves gradient checks and references; integer types
// hold indices, labels and raw data. New types (bf16, int8) slot in by adding an enum value, its
// size and name, and a case to the dispatch macros that should accept it.
#pragma once
#include <cstddef>
#include <cstdint>
#include <ostream>
#include <string_view>

#include "kun/core/error.h"

namespace kun {

enum class DType : uint8_t { f32 = 0, f64 = 1, i32 = 2, i64 = 3, u8 = 4, bool_ = 5 };

constexpr size_t dtype_size(DType t) {
  switch (t) {
    case DType::f32: return 4;
    case DType::f64: return 8;
    case DType::i32: return 4;
    case DType::i64: return 8;
    case DType::u8: return 1;
    case DType::bool_: return 1;
  }
  return 0;
}

constexpr std::string_view dtype_name(DType t) {
  switch (t) {
    case DType::f32: return "float32";
    case DType::f64: return "float64";
    case DType::i32: return "int32";
    case DType::i64: return "int64";
    case DType::u8: return "uint8";
    case DType::bool_: return "bool";
  }
  return "?";
}

constexpr bool is_floating(DType t) { return t == DType::f32 || t == DType::f64; }
constexpr bool is_integral(DType t) { return !is_floating(t); }

inline std::ostream& operator<<(std::ostream& os, DType t) { return os << dtype_name(t); }

// Parses "float32", "f32", "int64", ...; throws ValueError for anything else.
DType dtype_from_name(std::string_view name);

template <typename T>
struct dtype_of;
template <> struct dtype_of<float> { static constexpr DType value = DType::f32; };
template <> struct dtype_of<double> { static constexpr DType value = DType::f64; };
template <> struct dtype_of<int32_t> { static constexpr DType value = DType::i32; };
template <> struct dtype_of<int64_t> { static constexpr DType value = DType::i64; };
template <> struct dtype_of<uint8_t> { static constexpr DType value = DType::u8; };
template <> struct dtype_of<bool> { static constexpr DType value = DType::bool_; };
template <typename T>
inline constexpr DType dtype_v = dtype_of<T>::value;

// Promotion for binary ops: float64 > float32 > int64 > int32 > uint8 > bool.
DType promote(DType a, DType b);

}  // namespace kun

// Dispatch helpers: run the lambda body with `scalar_t` bound to the C++ type of `dt`.
// KUN_DISPATCH_FLOAT accepts float32/float64, KUN_DISPATCH_ALL every dtype.
#define KUN_DTYPE_CASE(enumv, ctype, ...) \
  case ::kun::DType::enumv: {             \
    using scalar_t = ctype;               \
    return __VA_ARGS__();                 \
  }

#define KUN_DISPATCH_FLOAT(dt, opname, ...)                                                      \
  [&] {                                                                                          \
    switch (dt) {                                                                                \
      KUN_DTYPE_CASE(f32, float, __VA_ARGS__)                                                    \
      KUN_DTYPE_CASE(f64, double, __VA_ARGS__)                                                   \
      default:                                                                                   \
        ::kun::detail::throw_error<::kun::TypeError>(opname, ": expected a float32 or float64 tensor, got ", dt, \
                                                     "; convert with .to(DType::f32)");        \
    }                                                                                            \
  }()

#define KUN_DISPATCH_ALL(dt, opname, ...)                                                        \
  [&] {                                                                                          \
    switch (dt) {                                                                                \
      KUN_DTYPE_CASE(f32, float, __VA_ARGS__)                                                    \
      KUN_DTYPE_CASE(f64, double, __VA_ARGS__)                                                   \
      KUN_DTYPE_CASE(i32, int32_t, __VA_ARGS__)                                                  \
      KUN_DTYPE_CASE(i64, int64_t, __VA_ARGS__)                                                  \
      KUN_DTYPE_CASE(u8, uint8_t, __VA_ARGS__)                                                   \
      KUN_DTYPE_CASE(bool_, bool, __VA_ARGS__)                                                   \
    }                                                                                            \
    ::kun::detail::throw_error<::kun::TypeError>(opname, ": unsupported dtype ", dt);             \
  }()

#define KUN_DISPATCH_INDEX(dt, opname, ...)                                                      \
  [&] {                                                                                          \
    switch (dt) {                                                                                \
      KUN_DTYPE_CASE(i32, int32_t, __VA_ARGS__)                                                  \
      KUN_DTYPE_CASE(i64, int64_t, __VA_ARGS__)                                                  \
      default:                                                                                   \
        ::kun::detail::throw_error<::kun::TypeError>(opname, ": expected an int64 or int32 index tensor, got ", dt); \
    }                                                                                            \
  }()
