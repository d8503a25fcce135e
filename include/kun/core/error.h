// kun::Error and the one check macro every API boundary uses.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace kun {

// Base of every error kun throws. The message says what was expected, what came, and a hint.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& msg) : std::runtime_error(msg) {}
};

class ShapeError : public Error {
 public:
  using Error::Error;
};
class TypeError : public Error {
 public:
  using Error::Error;
};
class ValueError : public Error {
 public:
  using Error::Error;
};
class IndexError : public Error {
 public:
  using Error::Error;
};
class IOError : public Error {
 public:
  using Error::Error;
};

namespace detail {
inline void append(std::ostringstream&) {}
template <typename T, typename... Rest>
void append(std::ostringstream& os, const T& v, const Rest&... rest) {
  os << v;
  append(os, rest...);
}
template <typename E, typename... Args>
[[noreturn]] void throw_error(const Args&... args) {
  std::ostringstream os;
  append(os, args...);
  throw E(os.str());
}
[[noreturn]] void assert_fail(const char* cond, const char* file, int line, const std::string& msg);
}  // namespace detail

// Inside a catch block: rethrows the current kun::Error as the same subclass with `prefix`
// put in front of its message (e.g. which layer or file it came from). Other exceptions pass as they are.
[[noreturn]] void rethrow_with_context(const std::string& prefix);

}  // namespace kun

// KUN_CHECK(cond, ErrorType, parts...) : throws ErrorType with the parts streamed together.
// Example: KUN_CHECK(x.dim() == 4, ShapeError, "conv2d: input must be (N, C, H, W), got ", x.shape());
#define KUN_CHECK(cond, ErrType, ...)                                  \
  do {                                                                 \
    if (!(cond)) [[unlikely]] ::kun::detail::throw_error<::kun::ErrType>(__VA_ARGS__); \
  } while (0)

// Internal invariant: a bug in kun, not in the caller's input. Throws (never aborts) with file/line.
#define KUN_ASSERT(cond, ...)                                                              \
  do {                                                                                     \
    if (!(cond)) [[unlikely]] {                                                            \
      std::ostringstream kun_os_;                                                          \
      ::kun::detail::append(kun_os_, "" __VA_OPT__(, ) __VA_ARGS__);                       \
      ::kun::detail::assert_fail(#cond, __FILE__, __LINE__, kun_os_.str());                \
    }                                                                                      \
  } while (0)
