#include "kun/core/error.h"

namespace kun::detail {

void assert_fail(const char* cond, const char* file, int line, const std::string& msg) {
  std::ostringstream os;
  os << "kun internal error: " << cond << " failed at " << file << ":" << line;
  if (!msg.empty()) os << ": " << msg;
  os << " (this is a bug in kun; please report it)";
  throw Error(os.str());
}

}  // namespace kun::detail
