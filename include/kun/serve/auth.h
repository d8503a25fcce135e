// serve::AccessControl: API keys / bearer tokens scoped per model.
//
// Keys file, one key per line (blank lines and # comments skipped):
//   <token>                  every model, plus the admin endpoints (metrics, repository control)
//   <token> mnist fraud      only the models listed
// Clients send `Authorization: Bearer <token>` or `X-API-Key: <token>`. Tokens are compared in
// constant time (every key is compared in full, whatever matches), and never logged.
#pragma once
#include <string>
#include <vector>

namespace kun::serve {

class AccessControl {
 public:
  enum class Decision { Allow, Unauthenticated /*401*/, Forbidden /*403*/ };

  AccessControl() = default;  // no keys: everything allowed
  // IOError / ValueError when the file is unreadable or a line is malformed.
  static AccessControl from_file(const std::string& path);
  void add_key(const std::string& token, std::vector<std::string> models = {});  // {} = every model

  bool enabled() const { return !keys_.empty(); }
  // model "" = an admin endpoint (needs an unscoped key).
  Decision check(const std::string& token, const std::string& model) const;

 private:
  struct Key {
    std::string token;
    std::vector<std::string> models;
  };
  std::vector<Key> keys_;
};

// Constant-time equality: the time depends on the lengths only, never on where the bytes differ.
bool constant_time_equal(const std::string& a, const std::string& b);

}  // namespace kun::serve
