// serve::codec: the wire formats of the two inference protocols, as pure functions from request
// bodies to plain tensors and from output tensors to response bodies. No HTTP and no kun::Tensor
// here, so the fuzz target links this file alone.
//
//   KServe v2 / Open Inference Protocol  {"inputs": [{"name", "datatype", "shape", "data"}], ...}
//   TensorFlow Serving REST :predict      {"instances": [...]} (row) or {"inputs": ...} (column)
//
// Every malformed body throws RequestError (an HTTP 4xx status plus a message naming what was
// expected, what came, and what to do).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "kun/core/error.h"

namespace kun::serve {

// A client fault (or a deliberate refusal such as back-pressure) with the HTTP status to answer.
// `retry_after_s` > 0 adds a Retry-After header (429/503).
class RequestError : public Error {
 public:
  RequestError(int status, const std::string& msg, int retry_after_s = 0)
      : Error(msg), status_(status), retry_after_s_(retry_after_s) {}
  int status() const { return status_; }
  int retry_after_s() const { return retry_after_s_; }

 private:
  int status_;
  int retry_after_s_;
};

// One decoded tensor: values converted to float32, row-major.
struct WireTensor {
  std::string name;
  std::string datatype;         // KServe datatype as sent ("FP32", "INT64", "BOOL", ...)
  std::vector<int64_t> shape;   // as declared (KServe) or as the nesting shows (TF-Serving)
  std::vector<float> data;      // numel(shape) values
};

struct InferRequest {
  std::string id;                         // echoed back ("" when absent)
  std::vector<WireTensor> inputs;         // at least one
  std::vector<std::string> outputs;       // requested output names ("" list: all)
};

// Limits that bound the work a single body can cause (checked while decoding).
struct DecodeLimits {
  int max_depth = 64;                   // JSON nesting
  int64_t max_elements = int64_t(1) << 26;  // values per tensor
};

// KServe v2 infer request body -> inputs. Datatypes BOOL, UINT8..64, INT8..64, FP16/32/64 are
// accepted (values checked against the type and converted to float32); BYTES is refused. `data`
// may be flat (the protocol's row-major form) or nested; its element count must match `shape`.
InferRequest decode_kserve_infer(std::string_view body, const DecodeLimits& lim = {});

// TF-Serving :predict body -> one batch tensor whose shape is (N, example dims as nested).
// `input_name` is the model's input (used to pick the value from named instances / inputs).
// `row_format` is set true for "instances", false for "inputs" (the response mirrors it).
WireTensor decode_tfserving_predict(std::string_view body, const std::string& input_name, bool& row_format,
                                    const DecodeLimits& lim = {});

// :classify option: "k" (top classes per example, default 1). Absent -> 1.
int decode_classify_k(std::string_view body);

// Float formatting for responses: shortest text that parses back to the same float.
void append_float(std::string& out, float v);
// A JSON string literal (quotes and escapes) for `s`.
std::string json_quote(std::string_view s);

// {"model_name", "model_version", "id", "outputs": [{"name", "datatype": "FP32", "shape", "data"}]}
// `values` holds rows x cols floats; shape is (rows, out_dims...).
std::string encode_kserve_response(const std::string& model, const std::string& version, const std::string& id,
                                   const std::string& output_name, const std::vector<int64_t>& shape,
                                   const float* values);
// {"predictions": [...]} (row) or {"outputs": [...]} (column), each example nested as out_dims.
std::string encode_tfserving_response(bool row_format, const std::vector<int64_t>& shape, const float* values);

// {"error": "..."} (the body of every 4xx/5xx answer).
std::string encode_error(std::string_view message);

}  // namespace kun::serve
