// API keys scoped per model (see include/kun/serve/auth.h).
#include "kun/serve/auth.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "kun/core/error.h"

namespace kun::serve {

bool constant_time_equal(const std::string& a, const std::string& b) {
  // Walk the longer string in full; fold the length difference into the result.
  const size_t n = std::max(a.size(), b.size());
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < n; ++i) {
    const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= static_cast<unsigned char>(x ^ y);
  }
  return diff == 0;
}

AccessControl AccessControl::from_file(const std::string& path) {
  std::ifstream f(path);
  KUN_CHECK(f.good(), IOError, "serve: cannot read the API keys file '", path, "'");
  AccessControl ac;
  std::string line;
  int lineno = 0;
  while (std::getline(f, line)) {
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::istringstream ss(line);
    std::string token;
    if (!(ss >> token) || token[0] == '#') continue;
    // The token itself is never echoed: the message names the line only.
    KUN_CHECK(token.size() >= 16, ValueError, "serve: ", path, " line ", lineno,
              ": keys must be at least 16 characters (use e.g. `openssl rand -hex 32`)");
    std::vector<std::string> models;
    for (std::string m; ss >> m;) models.push_back(m);
    ac.add_key(token, models);
  }
  KUN_CHECK(ac.enabled(), ValueError, "serve: ", path, " holds no key");
  return ac;
}

void AccessControl::add_key(const std::string& token, std::vector<std::string> models) {
  keys_.push_back({token, std::move(models)});
}

AccessControl::Decision AccessControl::check(const std::string& token, const std::string& model) const {
  if (keys_.empty()) return Decision::Allow;
  if (token.empty()) return Decision::Unauthenticated;
  const Key* match = nullptr;
  for (const Key& k : keys_)  // no early exit: every key is compared
    if (constant_time_equal(token, k.token) && !match) match = &k;
  if (!match) return Decision::Unauthenticated;
  if (match->models.empty()) return Decision::Allow;
  if (model.empty()) return Decision::Forbidden;
  return std::find(match->models.begin(), match->models.end(), model) != match->models.end() ? Decision::Allow
                                                                                                : Decision::Forbidden;
}

}  // namespace kun::serve
