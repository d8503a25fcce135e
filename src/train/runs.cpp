#include "kun/train/runs.h"

#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "kun/core/error.h"

namespace kun::train {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

const char* const kSchema = R"sql(
CREATE TABLE IF NOT EXISTS runs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL,
  status TEXT NOT NULL,
  error TEXT NOT NULL DEFAULT '',
  config TEXT NOT NULL,
  config_path TEXT NOT NULL DEFAULT '',
  command TEXT NOT NULL DEFAULT '',
  started_at TEXT NOT NULL DEFAULT (datetime('now')),
  finished_at TEXT NOT NULL DEFAULT '',
  started_unix REAL NOT NULL,
  seconds REAL NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS epochs (
  run_id INTEGER NOT NULL REFERENCES runs(id),
  epoch INTEGER NOT NULL,
  seconds REAL NOT NULL,
  PRIMARY KEY (run_id, epoch)
);
CREATE TABLE IF NOT EXISTS metrics (
  run_id INTEGER NOT NULL REFERENCES runs(id),
  epoch INTEGER NOT NULL,
  name TEXT NOT NULL,
  value REAL,
  PRIMARY KEY (run_id, epoch, name)
);
CREATE TABLE IF NOT EXISTS results (
  run_id INTEGER NOT NULL REFERENCES runs(id),
  name TEXT NOT NULL,
  value REAL,
  PRIMARY KEY (run_id, name)
);
CREATE TABLE IF NOT EXISTS artifacts (
  run_id INTEGER NOT NULL REFERENCES runs(id),
  kind TEXT NOT NULL,
  path TEXT NOT NULL
);
PRAGMA user_version = 1;
)sql";

double now_unix() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// One prepared statement; finalized on scope exit.
class Stmt {
 public:
  Stmt(sqlite3* db, const std::string& path, const char* sql) : db_(db), path_(path) {
    int rc = sqlite3_prepare_v2(db, sql, -1, &s_, nullptr);
    KUN_CHECK(rc == SQLITE_OK, IOError, "runs db ", path, ": ", sqlite3_errmsg(db));
  }
  ~Stmt() { sqlite3_finalize(s_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  Stmt& bind(int i, int64_t v) {
    sqlite3_bind_int64(s_, i, v);
    return *this;
  }
  Stmt& bind(int i, double v) {
    sqlite3_bind_double(s_, i, v);
    return *this;
  }
  Stmt& bind(int i, const std::string& v) {
    sqlite3_bind_text(s_, i, v.c_str(), int(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  // True while a row is available.
  bool step() {
    int rc = sqlite3_step(s_);
    if (rc == SQLITE_ROW) return true;
    KUN_CHECK(rc == SQLITE_DONE, IOError, "runs db ", path_, ": ", sqlite3_errmsg(db_));
    return false;
  }
  int64_t i64(int c) const { return sqlite3_column_int64(s_, c); }
  double f64(int c) const { return sqlite3_column_double(s_, c); }
  std::string text(int c) const {
    const unsigned char* t = sqlite3_column_text(s_, c);
    return t ? std::string(reinterpret_cast<const char*>(t)) : std::string();
  }

 private:
  sqlite3* db_;
  const std::string& path_;
  sqlite3_stmt* s_ = nullptr;
};

}  // namespace

struct RunStore::Impl {
  sqlite3* db = nullptr;
  ~Impl() {
    if (db) sqlite3_close(db);
  }
};

RunStore::RunStore(const std::string& path) : impl_(std::make_unique<Impl>()), path_(path) {
  std::error_code ec;
  fs::path parent = fs::path(path).parent_path();
  if (!parent.empty()) fs::create_directories(parent, ec);
  int rc = sqlite3_open_v2(path.c_str(), &impl_->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  KUN_CHECK(rc == SQLITE_OK, IOError, "runs db ", path, ": cannot open (", sqlite3_errstr(rc), ")");
  sqlite3_busy_timeout(impl_->db, 5000);  // two runs at once wait for each other's writes
  char* err = nullptr;
  rc = sqlite3_exec(impl_->db, kSchema, nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    detail::throw_error<IOError>("runs db ", path, ": ", msg, " (is it a kun run database?)");
  }
}

RunStore::~RunStore() = default;

int64_t RunStore::begin_run(const RunSpec& s) {
  Stmt st(impl_->db, path_,
          "INSERT INTO runs (name, status, config, config_path, command, started_unix) VALUES (?, 'running', ?, ?, ?, ?)");
  st.bind(1, s.name).bind(2, s.config).bind(3, s.config_path).bind(4, s.command).bind(5, now_unix());
  st.step();
  return sqlite3_last_insert_rowid(impl_->db);
}

void RunStore::log_epoch(int64_t run, const EpochRow& e) {
  sqlite3_exec(impl_->db, "BEGIN", nullptr, nullptr, nullptr);
  try {
    Stmt st(impl_->db, path_, "INSERT OR REPLACE INTO epochs (run_id, epoch, seconds) VALUES (?, ?, ?)");
    st.bind(1, run).bind(2, int64_t(e.epoch)).bind(3, e.seconds);
    st.step();
    for (const auto& [name, v] : e.metrics) {
      Stmt m(impl_->db, path_, "INSERT OR REPLACE INTO metrics (run_id, epoch, name, value) VALUES (?, ?, ?, ?)");
      m.bind(1, run).bind(2, int64_t(e.epoch)).bind(3, name).bind(4, v);
      m.step();
    }
    Stmt u(impl_->db, path_, "UPDATE runs SET seconds = ? - started_unix WHERE id = ?");
    u.bind(1, now_unix()).bind(2, run);
    u.step();
  } catch (...) {
    sqlite3_exec(impl_->db, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
  sqlite3_exec(impl_->db, "COMMIT", nullptr, nullptr, nullptr);
}

void RunStore::set_results(int64_t run, const std::map<std::string, double>& results) {
  for (const auto& [name, v] : results) {
    Stmt m(impl_->db, path_, "INSERT OR REPLACE INTO results (run_id, name, value) VALUES (?, ?, ?)");
    m.bind(1, run).bind(2, name).bind(3, v);
    m.step();
  }
}

void RunStore::add_artifact(int64_t run, const std::string& kind, const std::string& path) {
  Stmt m(impl_->db, path_, "INSERT INTO artifacts (run_id, kind, path) VALUES (?, ?, ?)");
  m.bind(1, run).bind(2, kind).bind(3, path);
  m.step();
}

void RunStore::finish_run(int64_t run, const std::string& status, const std::string& error) {
  Stmt u(impl_->db, path_,
         "UPDATE runs SET status = ?, error = ?, finished_at = datetime('now'), seconds = ? - started_unix WHERE id = ?");
  u.bind(1, status).bind(2, error).bind(3, now_unix()).bind(4, run);
  u.step();
}

namespace {
const char* const kRunColumns =
    "SELECT id, name, status, error, config, config_path, command, started_at, finished_at, seconds, "
    "(SELECT COUNT(*) FROM epochs e WHERE e.run_id = runs.id) FROM runs";

RunInfo read_run(const Stmt& s) {
  RunInfo r;
  r.id = s.i64(0);
  r.name = s.text(1);
  r.status = s.text(2);
  r.error = s.text(3);
  r.config = s.text(4);
  r.config_path = s.text(5);
  r.command = s.text(6);
  r.started_at = s.text(7);
  r.finished_at = s.text(8);
  r.seconds = s.f64(9);
  r.epochs = int(s.i64(10));
  return r;
}
}  // namespace

std::vector<RunInfo> RunStore::list(int limit) const {
  std::string sql = std::string(kRunColumns) + " ORDER BY id DESC";
  if (limit > 0) sql += " LIMIT " + std::to_string(limit);
  Stmt s(impl_->db, path_, sql.c_str());
  std::vector<RunInfo> out;
  while (s.step()) out.push_back(read_run(s));
  for (auto& r : out) {
    Stmt q(impl_->db, path_, "SELECT name, value FROM results WHERE run_id = ? ORDER BY name");
    q.bind(1, r.id);
    while (q.step()) r.results[q.text(0)] = q.f64(1);
  }
  return out;
}

RunInfo RunStore::get(int64_t id) const {
  std::string sql = std::string(kRunColumns) + " WHERE id = ?";
  Stmt s(impl_->db, path_, sql.c_str());
  s.bind(1, id);
  KUN_CHECK(s.step(), ValueError, "no run ", id, " in ", path_, " (see `kun runs list`)");
  RunInfo r = read_run(s);
  Stmt q(impl_->db, path_, "SELECT name, value FROM results WHERE run_id = ? ORDER BY name");
  q.bind(1, id);
  while (q.step()) r.results[q.text(0)] = q.f64(1);
  Stmt a(impl_->db, path_, "SELECT kind, path FROM artifacts WHERE run_id = ? ORDER BY rowid");
  a.bind(1, id);
  while (a.step()) r.artifacts.emplace_back(a.text(0), a.text(1));
  return r;
}

std::vector<EpochRow> RunStore::epochs(int64_t id) const {
  std::vector<EpochRow> out;
  Stmt s(impl_->db, path_, "SELECT epoch, seconds FROM epochs WHERE run_id = ? ORDER BY epoch");
  s.bind(1, id);
  while (s.step()) out.push_back(EpochRow{int(s.i64(0)), s.f64(1), {}});
  Stmt m(impl_->db, path_, "SELECT epoch, name, value FROM metrics WHERE run_id = ? ORDER BY epoch");
  m.bind(1, id);
  while (m.step()) {
    int ep = int(m.i64(0));
    for (auto& e : out)
      if (e.epoch == ep) e.metrics[m.text(1)] = m.f64(2);
  }
  return out;
}

// ---------------- recorder ----------------

void RunDbRecorder::record_epoch(const EpochRecord& e) {
  EpochRow row;
  row.epoch = e.epoch + 1;  // fit counts from 0; records read like the progress display
  row.seconds = e.seconds;
  row.metrics = e.logs;
  if (e.lr > 0) row.metrics["lr"] = e.lr;
  store_.log_epoch(run_, row);
}

// ---------------- reports ----------------

namespace {

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

std::string pad(std::string s, size_t w) {
  if (s.size() < w) s.append(w - s.size(), ' ');
  return s;
}

std::string duration(double s) {
  if (s < 60) return fmt("%.1fs", s);
  if (s < 3600) return std::to_string(int(s) / 60) + "m " + fmt("%02.0fs", double(int(s) % 60));
  return std::to_string(int(s) / 3600) + "h " + fmt("%02.0fm", double(int(s) % 3600 / 60));
}

// The headline figure of a run: test accuracy if recorded, else the last epoch's.
std::string headline(const RunInfo& r) {
  for (const char* k : {"test_accuracy", "test_loss"}) {
    auto it = r.results.find(k);
    if (it != r.results.end()) return std::string(k + 5) + " " + fmt("%.4f", it->second);
  }
  return "";
}

// Flattens a JSON config to dotted keys for diffing: "train.optimizer.lr" -> "0.001".
void flatten(const json& j, const std::string& prefix, std::map<std::string, std::string>& out) {
  if (j.is_object()) {
    for (auto it = j.begin(); it != j.end(); ++it) flatten(it.value(), prefix.empty() ? it.key() : prefix + "." + it.key(), out);
  } else if (j.is_array() && !j.empty() && j[0].is_object()) {
    for (size_t i = 0; i < j.size(); ++i) flatten(j[i], prefix + "[" + std::to_string(i) + "]", out);
  } else {
    out[prefix] = j.dump();
  }
}

}  // namespace

std::string format_run_list(const std::vector<RunInfo>& runs) {
  if (runs.empty()) return "no runs recorded yet (kun train records every run)\n";
  std::ostringstream os;
  os << pad("ID", 5) << pad("NAME", 24) << pad("STATUS", 10) << pad("STARTED (UTC)", 21) << pad("TIME", 9)
     << pad("EPOCHS", 8) << "TEST\n";
  for (const auto& r : runs) {
    os << pad(std::to_string(r.id), 5) << pad(r.name.substr(0, 23), 24) << pad(r.status, 10) << pad(r.started_at, 21)
       << pad(duration(r.seconds), 9) << pad(std::to_string(r.epochs), 8) << headline(r) << "\n";
  }
  return os.str();
}

std::string format_run(const RunInfo& r, const std::vector<EpochRow>& epochs) {
  std::ostringstream os;
  os << "run " << r.id << ": " << r.name << "\n";
  os << "  status:   " << r.status << (r.error.empty() ? "" : " (" + r.error + ")") << "\n";
  os << "  started:  " << r.started_at << " UTC" << (r.finished_at.empty() ? "" : ", finished " + r.finished_at)
     << ", " << duration(r.seconds) << "\n";
  os << "  config:   " << (r.config_path.empty() ? "<embedded default>" : r.config_path) << "\n";
  if (!r.command.empty()) os << "  command:  " << r.command << "\n";
  for (const auto& [k, p] : r.artifacts) os << "  " << pad(k + ":", 10) << p << "\n";
  if (!r.results.empty()) {
    os << "  test:     ";
    bool first = true;
    for (const auto& [k, v] : r.results) {
      os << (first ? "" : " - ") << k << ": " << fmt("%.4f", v);
      first = false;
    }
    os << "\n";
  }
  if (!epochs.empty()) {
    std::vector<std::string> names;
    for (const auto& e : epochs)
      for (const auto& [k, v] : e.metrics)
        if (std::find(names.begin(), names.end(), k) == names.end()) names.push_back(k);
    os << "\n  " << pad("epoch", 7) << pad("time", 9);
    for (const auto& n : names) os << pad(n, std::max<size_t>(n.size() + 2, 10));
    os << "\n";
    for (const auto& e : epochs) {
      os << "  " << pad(std::to_string(e.epoch), 7) << pad(duration(e.seconds), 9);
      for (const auto& n : names) {
        auto it = e.metrics.find(n);
        os << pad(it == e.metrics.end() ? "-" : fmt("%.4f", it->second), std::max<size_t>(n.size() + 2, 10));
      }
      os << "\n";
    }
  }
  return os.str();
}

std::string format_compare(const RunInfo& a, const std::vector<EpochRow>& ea, const RunInfo& b,
                           const std::vector<EpochRow>& eb) {
  std::ostringstream os;
  const size_t w = 30;
  os << pad("", w) << pad("run " + std::to_string(a.id), 18) << "run " << b.id << "\n";
  os << pad("name", w) << pad(a.name, 18) << b.name << "\n";
  os << pad("status", w) << pad(a.status, 18) << b.status << "\n";
  os << pad("time", w) << pad(duration(a.seconds), 18) << duration(b.seconds) << "\n";
  os << pad("epochs", w) << pad(std::to_string(a.epochs), 18) << b.epochs << "\n";
  // Final-epoch metrics and test results, union of names.
  std::map<std::string, std::pair<std::string, std::string>> rows;
  if (!ea.empty())
    for (const auto& [k, v] : ea.back().metrics) rows["final " + k].first = fmt("%.4f", v);
  if (!eb.empty())
    for (const auto& [k, v] : eb.back().metrics) rows["final " + k].second = fmt("%.4f", v);
  for (const auto& [k, v] : a.results) rows[k].first = fmt("%.4f", v);
  for (const auto& [k, v] : b.results) rows[k].second = fmt("%.4f", v);
  for (const auto& [k, v] : rows)
    os << pad(k, w) << pad(v.first.empty() ? "-" : v.first, 18) << (v.second.empty() ? "-" : v.second) << "\n";
  // Config differences.
  std::map<std::string, std::string> fa, fb;
  try {
    flatten(json::parse(a.config), "", fa);
    flatten(json::parse(b.config), "", fb);
  } catch (const json::exception&) {
  }
  std::set<std::string> keys;
  for (const auto& [k, v] : fa) keys.insert(k);
  for (const auto& [k, v] : fb) keys.insert(k);
  std::ostringstream diff;
  int n = 0;
  for (const auto& k : keys) {
    auto ia = fa.find(k), ib = fb.find(k);
    std::string va = ia == fa.end() ? "-" : ia->second, vb = ib == fb.end() ? "-" : ib->second;
    if (va == vb) continue;
    ++n;
    diff << "  " << pad(k, w - 2) << pad(va, 18) << vb << "\n";
  }
  os << "\nconfig differences: " << (n ? std::to_string(n) : std::string("none")) << "\n" << diff.str();
  return os.str();
}

}  // namespace kun::train
