// Wire formats of KServe v2 and TF-Serving REST (see include/kun/serve/codec.h).
#include "kun/serve/codec.h"

#include <charconv>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

namespace kun::serve {

namespace {
using json = nlohmann::json;

[[noreturn]] void bad(const std::string& msg) { throw RequestError(400, msg); }

// Nesting depth of a JSON text, counted before parsing so a hostile body ([[[[...) is refused
// cheaply instead of building a deep tree.
int json_depth(std::string_view s) {
  int depth = 0, max_depth = 0;
  bool in_str = false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (in_str) {
      if (c == '\\') ++i;
      else if (c == '"') in_str = false;
      continue;
    }
    if (c == '"') in_str = true;
    else if (c == '[' || c == '{') max_depth = std::max(max_depth, ++depth);
    else if (c == ']' || c == '}') --depth;
  }
  return max_depth;
}

// ---- fast path for tensor data ----------------------------------------------------------------
// A general JSON tree costs one node per number; a 28x28 image is 784 nodes and most of a
// request's time. So before the tree is built, every array holding only numbers (nested to any
// depth, rectangular) is read straight into doubles and replaced in the text by a small marker
// object {"__kun_packed__": <index>}. Anything unusual (strings, booleans, ragged nesting, a
// number JSON would not accept, integers beyond 15 digits) leaves the array as it was for the
// general parser, whose checks and messages then apply unchanged.
constexpr std::string_view kPackedKey = "__kun_packed__";

struct Packed {
  std::vector<double> values;
  std::vector<int64_t> shape;
  bool all_int = true;          // every token was written as an integer
  double min = 0, max = 0, max_abs = 0;
  std::string first_nonint;     // the first non-integer token (for messages)
};
thread_local std::vector<Packed> t_packs;

const Packed* packed(const json& v) {
  if (!v.is_object() || v.size() != 1) return nullptr;
  auto it = v.find(std::string(kPackedKey));
  if (it == v.end() || !it->is_number_unsigned() || it->get<uint64_t>() >= t_packs.size()) return nullptr;
  return &t_packs[it->get<size_t>()];
}

// One JSON number token at s[i..); returns its end or npos when it is not strict JSON.
size_t number_end(std::string_view s, size_t i, bool& is_int) {
  const size_t n = s.size();
  is_int = true;
  if (i < n && s[i] == '-') ++i;
  if (i >= n) return std::string_view::npos;
  if (s[i] == '0') {
    ++i;
  } else if (s[i] >= '1' && s[i] <= '9') {
    while (i < n && s[i] >= '0' && s[i] <= '9') ++i;
  } else {
    return std::string_view::npos;
  }
  if (i < n && s[i] == '.') {
    is_int = false;
    ++i;
    if (i >= n || s[i] < '0' || s[i] > '9') return std::string_view::npos;
    while (i < n && s[i] >= '0' && s[i] <= '9') ++i;
  }
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    is_int = false;
    ++i;
    if (i < n && (s[i] == '+' || s[i] == '-')) ++i;
    if (i >= n || s[i] < '0' || s[i] > '9') return std::string_view::npos;
    while (i < n && s[i] >= '0' && s[i] <= '9') ++i;
  }
  return i;
}

bool is_ws(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

// Reads the numeric-only, rectangular array starting at s[pos] == '['. Returns one past its ']'
// or npos (then `p` is garbage).
size_t scan_numeric_array(std::string_view s, size_t pos, Packed& p, int max_depth) {
  const size_t n = s.size();
  std::vector<int64_t> count;  // elements so far at each open level
  std::vector<int64_t>& shape = p.shape;
  int leaf = -1, deepest = -1;  // depth of the levels holding numbers; deepest level opened
  size_t i = pos;
  bool expect_value = false;  // after a comma
  bool first_value = true;
  for (;;) {
    while (i < n && is_ws(s[i])) ++i;
    if (i >= n) return std::string_view::npos;
    const char c = s[i];
    const int d = int(count.size());  // depth of a level opened now; d - 1 = current level
    if (c == '[') {
      if (d > 0 && (leaf != -1 && leaf <= d - 1)) return std::string_view::npos;  // numbers and arrays mixed
      if (d >= max_depth) return std::string_view::npos;
      count.push_back(0);
      if (int(shape.size()) < d + 1) shape.push_back(-1);
      deepest = std::max(deepest, d);
      ++i;
      expect_value = false;
      continue;  // "[]" is fine: no comma before the ']'
    }
    if (c == ']') {
      if (expect_value || count.empty()) return std::string_view::npos;  // "[1,]"
      const int level = d - 1;
      const int64_t len = count.back();
      if (shape[size_t(level)] == -1) shape[size_t(level)] = len;
      else if (shape[size_t(level)] != len) return std::string_view::npos;  // ragged
      count.pop_back();
      ++i;
      if (count.empty()) break;
      ++count.back();
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      const int level = d - 1;
      if (level < 0 || deepest > level || (leaf != -1 && leaf != level)) return std::string_view::npos;
      leaf = level;
      bool is_int = true;
      const size_t e = number_end(s, i, is_int);
      if (e == std::string_view::npos) return std::string_view::npos;
      if (is_int && e - i > 15) return std::string_view::npos;  // exact big integers: the general parser
      double v = 0;
      const auto r = std::from_chars(s.data() + i, s.data() + e, v);
      if (r.ec != std::errc() || r.ptr != s.data() + e) return std::string_view::npos;  // out of double range
      if (!is_int && p.all_int) p.first_nonint = std::string(s.substr(i, e - i));
      p.all_int = p.all_int && is_int;
      if (first_value) p.min = p.max = v, first_value = false;
      p.min = std::min(p.min, v);
      p.max = std::max(p.max, v);
      p.max_abs = std::max(p.max_abs, std::fabs(v));
      p.values.push_back(v);
      ++count.back();
      i = e;
      expect_value = false;
    } else {
      return std::string_view::npos;  // string, object, true/false/null: not a numeric array
    }
    // After a value: ',' or ']'.
    while (i < n && is_ws(s[i])) ++i;
    if (i >= n) return std::string_view::npos;
    if (s[i] == ',') {
      ++i;
      expect_value = true;  // "[1,]" is caught at the top
    } else if (s[i] != ']') {
      return std::string_view::npos;
    }
  }
  if (leaf != -1 && int(shape.size()) != leaf + 1) return std::string_view::npos;
  if (leaf == -1) {  // only empty arrays: the shape ends at the first 0
    size_t k = 0;
    while (k < shape.size() && shape[k] != 0) ++k;
    shape.resize(std::min(shape.size(), k + 1));
  }
  return i;
}

// The body with numeric arrays replaced by markers (t_packs holds them); the body itself when
// there is nothing to pack or the marker key occurs in it.
std::string pack_numeric_arrays(std::string_view body, int max_depth) {
  t_packs.clear();
  std::string out;
  if (body.find(kPackedKey) != std::string_view::npos || body.find('[') == std::string_view::npos)
    return std::string(body);
  out.reserve(256);
  bool in_str = false;
  for (size_t i = 0; i < body.size();) {
    const char c = body[i];
    if (in_str) {
      out += c;
      if (c == '\\' && i + 1 < body.size()) out += body[++i];
      else if (c == '"') in_str = false;
      ++i;
      continue;
    }
    if (c == '"') {
      in_str = true;
    } else if (c == '[') {
      Packed p;
      const size_t end = scan_numeric_array(body, i, p, max_depth);
      if (end != std::string_view::npos) {
        out += "{\"";
        out += kPackedKey;
        out += "\":" + std::to_string(t_packs.size()) + "}";
        t_packs.push_back(std::move(p));
        i = end;
        continue;
      }
    }
    out += c;
    ++i;
  }
  return out;
}

[[noreturn]] void malformed(const json::exception& e) {
  std::string m = e.what();
  // "[json.exception.parse_error.101] parse error at line 1, column 2: ..." -> from "parse error".
  const size_t p = m.find("] ");
  bad("malformed JSON: " + (p == std::string::npos ? m : m.substr(p + 2)));
}

json parse_body(std::string_view body, const DecodeLimits& lim) {
  t_packs.clear();
  if (body.empty()) bad("empty request body: expected a JSON object");
  const int depth = json_depth(body);
  if (depth > lim.max_depth)
    bad("JSON nested " + std::to_string(depth) + " levels deep; at most " + std::to_string(lim.max_depth) +
        " are accepted");
  // Only inside an object: a top-level array must stay an array (and be refused below).
  const size_t first = body.find_first_not_of(" \t\r\n");
  const std::string skeleton =
      first != std::string_view::npos && body[first] == '{' ? pack_numeric_arrays(body, lim.max_depth) : std::string(body);
  json j;
  try {
    j = json::parse(skeleton);
  } catch (const json::exception& e) {  // parse_error, or out_of_range for a number like 1e400
    if (t_packs.empty()) malformed(e);
    t_packs.clear();
    try {  // positions in the message must refer to the body as sent
      j = json::parse(body.begin(), body.end());
    } catch (const json::exception& e2) {
      malformed(e2);
    }
  }
  if (!j.is_object()) bad(std::string("request body must be a JSON object, got a JSON ") + j.type_name());
  return j;
}

// A packed array as a plain JSON array (small arrays such as "shape").
json materialize(const json& v) {
  const Packed* p = packed(v);
  if (!p) return v;
  if (p->shape.size() != 1) return v;  // nested: callers reject it
  json a = json::array();
  for (double d : p->values) {
    if (p->all_int) a.push_back(int64_t(d));
    else a.push_back(d);
  }
  return a;
}

std::string fmt_value(double v) {
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%.17g", v);
  return buf;
}

enum class Kind { Bool, UInt, Int, Float, Bytes, Unknown };
struct TypeInfo {
  Kind kind;
  double lo, hi;  // value range (integers) or magnitude limit (floats)
};

TypeInfo type_info(const std::string& dt) {
  if (dt == "BOOL") return {Kind::Bool, 0, 1};
  if (dt == "UINT8") return {Kind::UInt, 0, 255};
  if (dt == "UINT16") return {Kind::UInt, 0, 65535};
  if (dt == "UINT32") return {Kind::UInt, 0, 4294967295.0};
  if (dt == "UINT64") return {Kind::UInt, 0, 18446744073709551615.0};
  if (dt == "INT8") return {Kind::Int, -128, 127};
  if (dt == "INT16") return {Kind::Int, -32768, 32767};
  if (dt == "INT32") return {Kind::Int, -2147483648.0, 2147483647.0};
  if (dt == "INT64") return {Kind::Int, -9223372036854775808.0, 9223372036854775807.0};
  if (dt == "FP16") return {Kind::Float, 0, 65504.0};
  if (dt == "FP32") return {Kind::Float, 0, double(std::numeric_limits<float>::max())};
  if (dt == "FP64") return {Kind::Float, 0, double(std::numeric_limits<float>::max())};  // served as FP32
  if (dt == "BYTES") return {Kind::Bytes, 0, 0};
  return {Kind::Unknown, 0, 0};
}

// Appends the values of `v` (a number, bool, or nested arrays of them) converted by `ti`.
void flatten(const json& v, const TypeInfo& ti, const std::string& what, std::vector<float>& out, int64_t max_elements) {
  if (const Packed* p = packed(v)) {
    if (int64_t(out.size() + p->values.size()) > max_elements)
      bad(what + ": more than " + std::to_string(max_elements) + " values; split the request");
    if (!p->values.empty()) {
      switch (ti.kind) {
        case Kind::Bool:
          bad(what + ": BOOL data must be true/false, got " + fmt_value(p->values[0]));
        case Kind::UInt:
        case Kind::Int:
          if (!p->all_int)
            bad(what + ": " + (ti.kind == Kind::UInt ? "unsigned " : "") + "integer data expected, got " + p->first_nonint);
          if (p->min < ti.lo) bad(what + ": value " + fmt_value(p->min) + " is out of the datatype's range");
          if (p->max > ti.hi) bad(what + ": value " + fmt_value(p->max) + " is out of the datatype's range");
          break;
        case Kind::Float:
          if (p->max_abs > ti.hi)
            bad(what + ": value " + fmt_value(p->max_abs > p->max ? p->min : p->max) + " does not fit the datatype");
          break;
        default:
          bad(what + ": unsupported datatype");
      }
    }
    const size_t at = out.size();
    out.resize(at + p->values.size());
    for (size_t k = 0; k < p->values.size(); ++k) out[at + k] = float(p->values[k]);
    return;
  }
  if (v.is_array()) {
    for (const json& e : v) flatten(e, ti, what, out, max_elements);
    return;
  }
  if (int64_t(out.size()) >= max_elements)
    bad(what + ": more than " + std::to_string(max_elements) + " values; split the request");
  switch (ti.kind) {
    case Kind::Bool:
      if (!v.is_boolean()) bad(what + ": BOOL data must be true/false, got " + v.dump());
      out.push_back(v.get<bool>() ? 1.0f : 0.0f);
      return;
    case Kind::UInt:
    case Kind::Int: {
      if (!v.is_number_integer()) bad(what + ": " + (ti.kind == Kind::UInt ? "unsigned " : "") + "integer data expected, got " + v.dump());
      const double d = v.is_number_unsigned() ? double(v.get<uint64_t>()) : double(v.get<int64_t>());
      if (d < ti.lo || d > ti.hi) bad(what + ": value " + v.dump() + " is out of the datatype's range");
      out.push_back(float(d));
      return;
    }
    case Kind::Float: {
      if (!v.is_number()) bad(what + ": numeric data expected, got " + v.dump());
      const double d = v.get<double>();
      if (!std::isfinite(d) || std::fabs(d) > ti.hi) bad(what + ": value " + v.dump() + " does not fit the datatype");
      out.push_back(float(d));
      return;
    }
    default:
      bad(what + ": unsupported datatype");
  }
}

// The shape nested arrays describe; ragged nesting is an error.
std::vector<int64_t> nested_shape(const json& v, const std::string& what) {
  if (const Packed* p = packed(v)) return p->shape;
  if (!v.is_array()) {
    if (v.is_number() || v.is_boolean()) return {};
    bad(what + ": expected numbers or nested arrays of numbers, got a JSON " + v.type_name());
  }
  std::vector<int64_t> first;
  for (size_t i = 0; i < v.size(); ++i) {
    std::vector<int64_t> s = nested_shape(v[i], what);
    if (i == 0) {
      first = std::move(s);
    } else if (s != first) {
      std::string a = "[", b = "[";
      for (size_t k = 0; k < first.size(); ++k) {
        a += k ? ", " : "";
        a += std::to_string(first[k]);
      }
      for (size_t k = 0; k < s.size(); ++k) {
        b += k ? ", " : "";
        b += std::to_string(s[k]);
      }
      bad(what + ": ragged nested arrays (elements of shapes " + a + "] and " + b + "])");
    }
  }
  first.insert(first.begin(), int64_t(v.size()));
  return first;
}

std::string shape_str(const std::vector<int64_t>& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) {
    r += i ? ", " : "";
    r += std::to_string(s[i]);
  }
  return r + "]";
}

WireTensor decode_kserve_input(const json& in, size_t idx, const DecodeLimits& lim) {
  const std::string where = "inputs[" + std::to_string(idx) + "]";
  if (!in.is_object()) bad(where + " must be an object {\"name\", \"datatype\", \"shape\", \"data\"}");
  WireTensor t;
  auto name = in.find("name");
  if (name == in.end() || !name->is_string() || name->get_ref<const std::string&>().empty())
    bad(where + ": \"name\" (a non-empty string) is required");
  t.name = name->get<std::string>();
  const std::string what = "input '" + t.name + "'";
  auto dt = in.find("datatype");
  if (dt == in.end() || !dt->is_string()) bad(what + ": \"datatype\" (a string such as \"FP32\") is required");
  t.datatype = dt->get<std::string>();
  const TypeInfo ti = type_info(t.datatype);
  if (ti.kind == Kind::Unknown)
    bad(what + ": unknown datatype '" + t.datatype + "' (expected BOOL, UINT8..UINT64, INT8..INT64, FP16, FP32, FP64)");
  if (ti.kind == Kind::Bytes) bad(what + ": BYTES tensors are not accepted by numeric models; send FP32 data");
  auto shp = in.find("shape");
  if (shp == in.end()) bad(what + ": \"shape\" (an array of dims) is required");
  const json shape_v = materialize(*shp);
  const json* sh = &shape_v;
  if (!sh->is_array()) bad(what + ": \"shape\" (an array of dims) is required");
  if (sh->size() > 16) bad(what + ": shape has " + std::to_string(sh->size()) + " dims; at most 16");
  int64_t numel = 1;
  for (const json& d : *sh) {
    if (!d.is_number_integer() || d.get<int64_t>() < 0)
      bad(what + ": shape dims must be non-negative integers, got " + sh->dump());
    const int64_t v = d.get<int64_t>();
    if (v > 0 && numel > lim.max_elements / v) bad(what + ": shape " + sh->dump() + " is too large");
    numel *= v;
    t.shape.push_back(v);
  }
  if (in.contains("parameters") && in["parameters"].is_object() && in["parameters"].contains("binary_data_size"))
    bad(what + ": the binary tensor extension is not supported; send the values in \"data\"");
  auto data = in.find("data");
  if (data == in.end()) bad(what + ": \"data\" is required");
  if (!packed(*data) && !data->is_array() && !data->is_number() && !data->is_boolean())
    bad(what + ": \"data\" must be an array of values, got a JSON " + data->type_name());
  t.data.reserve(size_t(numel));
  flatten(*data, ti, what, t.data, std::min(lim.max_elements, numel + 1));
  if (int64_t(t.data.size()) != numel)
    bad(what + ": shape " + shape_str(t.shape) + " needs " + std::to_string(numel) + " values, \"data\" holds " +
        std::to_string(t.data.size()));
  return t;
}

// A TF-Serving value (one instance, or the column batch) -> floats + nested shape.
void decode_tf_value(const json& v, const std::string& what, std::vector<int64_t>& shape, std::vector<float>& data,
                     const DecodeLimits& lim) {
  if (!packed(v) && (v.is_string() || v.is_object() || v.is_null()))
    bad(what + ": expected numbers or nested arrays of numbers, got a JSON " + v.type_name());
  shape = nested_shape(v, what);
  const TypeInfo ti{Kind::Float, 0, double(std::numeric_limits<float>::max())};
  // Booleans are numbers 0/1 for TF-Serving; accept them.
  if (v.is_boolean()) {
    data.push_back(v.get<bool>() ? 1.0f : 0.0f);
    return;
  }
  flatten(v, ti, what, data, lim.max_elements);  // recursion depth bounded by the pre-parse check
}

}  // namespace

InferRequest decode_kserve_infer(std::string_view body, const DecodeLimits& lim) {
  const json j = parse_body(body, lim);
  InferRequest r;
  if (auto id = j.find("id"); id != j.end()) {
    if (!id->is_string()) bad("\"id\" must be a string");
    r.id = id->get<std::string>();
    if (r.id.size() > 256) bad("\"id\" is longer than 256 characters");
  }
  auto inputs = j.find("inputs");
  if (inputs == j.end() || !inputs->is_array() || inputs->empty())
    bad("\"inputs\" (a non-empty array of tensors) is required, e.g. {\"inputs\": [{\"name\": \"input\", "
        "\"datatype\": \"FP32\", \"shape\": [1, 4], \"data\": [1, 2, 3, 4]}]}");
  if (inputs->size() > 64) bad("too many inputs (" + std::to_string(inputs->size()) + ")");
  for (size_t i = 0; i < inputs->size(); ++i) r.inputs.push_back(decode_kserve_input((*inputs)[i], i, lim));
  if (auto outs = j.find("outputs"); outs != j.end()) {
    if (!outs->is_array()) bad("\"outputs\" must be an array of {\"name\": ...}");
    for (const json& o : *outs) {
      if (!o.is_object() || !o.contains("name") || !o["name"].is_string())
        bad("each requested output must be an object with a \"name\" string");
      r.outputs.push_back(o["name"].get<std::string>());
    }
  }
  return r;
}

WireTensor decode_tfserving_predict(std::string_view body, const std::string& input_name, bool& row_format,
                                    const DecodeLimits& lim) {
  const json j = parse_body(body, lim);
  const bool has_inst = j.contains("instances"), has_inputs = j.contains("inputs");
  if (has_inst == has_inputs)
    bad(has_inst ? "give either \"instances\" (row format) or \"inputs\" (column format), not both"
                 : "\"instances\" (a list of examples) or \"inputs\" is required, e.g. {\"instances\": [[...], [...]]}");
  if (auto sig = j.find("signature_name"); sig != j.end()) {
    if (!sig->is_string() || (sig->get<std::string>() != "serving_default" && sig->get<std::string>() != "predict"))
      bad("unknown signature_name " + sig->dump() + "; this model has only \"serving_default\"");
  }
  WireTensor t;
  t.name = input_name;
  t.datatype = "FP32";
  row_format = has_inst;
  // Named form ({"input": value}) -> the value; the model has one input.
  auto unwrap = [&](const json& v, const std::string& what) -> const json& {
    if (!v.is_object() || packed(v)) return v;
    if (v.size() != 1)
      bad(what + ": this model has one input ('" + input_name + "'), got an object with " + std::to_string(v.size()) +
          " keys");
    if (v.begin().key() != input_name)
      bad(what + ": unknown input '" + v.begin().key() + "'; this model's input is '" + input_name + "'");
    return v.begin().value();
  };
  if (row_format) {
    const json& inst = j["instances"];
    if (const Packed* p = packed(inst)) {  // all instances numeric: one block, shape (N, example...)
      if (p->shape.empty() || p->shape[0] == 0) bad("\"instances\" must be a non-empty list of examples");
      const TypeInfo ti{Kind::Float, 0, double(std::numeric_limits<float>::max())};
      flatten(inst, ti, "\"instances\"", t.data, lim.max_elements);
      t.shape = p->shape;
      return t;
    }
    if (!inst.is_array() || inst.empty()) bad("\"instances\" must be a non-empty list of examples");
    std::vector<int64_t> first;
    for (size_t i = 0; i < inst.size(); ++i) {
      const std::string what = "instances[" + std::to_string(i) + "]";
      std::vector<int64_t> s;
      decode_tf_value(unwrap(inst[i], what), what, s, t.data, lim);
      if (i == 0) first = s;
      else if (s != first)
        bad(what + " has shape " + shape_str(s) + " but instances[0] has " + shape_str(first) +
            "; all instances must have the same shape");
    }
    t.shape = {int64_t(inst.size())};
    t.shape.insert(t.shape.end(), first.begin(), first.end());
  } else {
    decode_tf_value(unwrap(j["inputs"], "\"inputs\""), "\"inputs\"", t.shape, t.data, lim);
    if (t.shape.empty()) bad("\"inputs\" must be a batch (a list with one entry per example), got a scalar");
  }
  return t;
}

int decode_classify_k(std::string_view body) {
  const json j = parse_body(body, DecodeLimits{});
  auto k = j.find("k");
  if (k == j.end()) return 1;
  if (!k->is_number_integer() || k->get<int64_t>() < 1 || k->get<int64_t>() > 1000)
    bad("\"k\" must be an integer in [1, 1000], got " + k->dump());
  return int(k->get<int64_t>());
}

void append_float(std::string& out, float v) {
  if (!std::isfinite(v)) {  // JSON has no NaN/Inf; the model produced one, say so explicitly
    out += "null";
    return;
  }
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof(buf), v);
  out.append(buf, r.ptr);
}

std::string json_quote(std::string_view s) { return json(std::string(s)).dump(-1, ' ', false, json::error_handler_t::replace); }

namespace {
// Nested rows: dims (d0, d1, ...) of `values` starting at `v`, advancing `v`.
void append_nested(std::string& out, const std::vector<int64_t>& dims, size_t level, const float*& v) {
  if (level == dims.size()) {
    append_float(out, *v++);
    return;
  }
  out += '[';
  for (int64_t i = 0; i < dims[level]; ++i) {
    if (i) out += ',';
    append_nested(out, dims, level + 1, v);
  }
  out += ']';
}
}  // namespace

std::string encode_kserve_response(const std::string& model, const std::string& version, const std::string& id,
                                   const std::string& output_name, const std::vector<int64_t>& shape,
                                   const float* values) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  std::string out;
  out.reserve(size_t(n) * 12 + 160);
  out += "{\"model_name\":" + json_quote(model) + ",\"model_version\":" + json_quote(version);
  if (!id.empty()) out += ",\"id\":" + json_quote(id);
  out += ",\"outputs\":[{\"name\":" + json_quote(output_name) + ",\"datatype\":\"FP32\",\"shape\":[";
  for (size_t i = 0; i < shape.size(); ++i) {
    out += i ? "," : "";
    out += std::to_string(shape[i]);
  }
  out += "],\"data\":[";
  for (int64_t i = 0; i < n; ++i) {
    if (i) out += ',';
    append_float(out, values[i]);
  }
  out += "]}]}";
  return out;
}

std::string encode_tfserving_response(bool row_format, const std::vector<int64_t>& shape, const float* values) {
  std::string out;
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  out.reserve(size_t(n) * 12 + 32);
  out += row_format ? "{\"predictions\":" : "{\"outputs\":";
  const float* v = values;
  append_nested(out, shape, 0, v);
  out += '}';
  return out;
}

std::string encode_error(std::string_view message) { return "{\"error\":" + json_quote(message) + "}"; }

}  // namespace kun::serve
