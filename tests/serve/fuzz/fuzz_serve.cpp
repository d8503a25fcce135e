// libFuzzer target: raw HTTP requests (the shape of tests/serve/corpus/*.http) through the
// server's request decoding — request line and path split, then the KServe v2 and TF-Serving
// body decoders and the response encoders. Any crash, hang, sanitizer report or exception other
// than kun::Error is a finding. Built with -DKUN_BUILD_FUZZ=ON (clang); run by scripts/fuzz_serve.sh.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "kun/serve/codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  // Request line and body, split like the server sees them (corpus files use \n or \r\n).
  std::string_view path, body = in;
  size_t head_end = in.find("\r\n\r\n"), sep = 4;
  if (head_end == std::string_view::npos) head_end = in.find("\n\n"), sep = 2;
  if (head_end != std::string_view::npos) {
    body = in.substr(head_end + sep);
    const std::string_view line = in.substr(0, in.find('\n'));
    const size_t a = line.find(' '), b = line.find(' ', a == std::string_view::npos ? 0 : a + 1);
    if (a != std::string_view::npos && b != std::string_view::npos) path = line.substr(a + 1, b - a - 1);
  }
  const bool tf = path.find(":predict") != std::string_view::npos || path.find(":classify") != std::string_view::npos;
  kun::serve::DecodeLimits lim;
  lim.max_elements = 1 << 20;  // keep each run small
  try {
    if (!tf || path.empty()) {
      auto r = kun::serve::decode_kserve_infer(body, lim);
      for (const auto& t : r.inputs) {
        std::vector<int64_t> shape = t.shape;
        if (!t.data.empty() && !shape.empty())
          (void)kun::serve::encode_kserve_response("m", "1", r.id, t.name, shape, t.data.data());
      }
    }
    if (tf || path.empty()) {
      bool row = true;
      auto t = kun::serve::decode_tfserving_predict(body, "input", row, lim);
      if (!t.data.empty()) (void)kun::serve::encode_tfserving_response(row, t.shape, t.data.data());
      (void)kun::serve::decode_classify_k(body);
    }
  } catch (const kun::Error&) {
    // Expected: a clear client error.
  }
  return 0;
}
