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

namespace kun {

void rethrow_with_context(const std::string& prefix) {
  try {
    throw;
  } catch (const ShapeError& e) {
    throw ShapeError(prefix + e.what());
  } catch (const TypeError& e) {
    throw TypeError(prefix + e.what());
  } catch (const ValueError& e) {
    throw ValueError(prefix + e.what());
  } catch (const IndexError& e) {
    throw IndexError(prefix + e.what());
  } catch (const IOError& e) {
    throw IOError(prefix + e.what());
  } catch (const Error& e) {
    throw Error(prefix + e.what());
  }
}

}  // namespace kun
