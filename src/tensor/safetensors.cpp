// safetensors reader/writer. Validation happens on the header alone, before any tensor is
// allocated, so a corrupt file costs nothing but one clear error.
#include "kun/tensor/safetensors.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

namespace kun::safetensors {

static_assert(std::endian::native == std::endian::little, "safetensors I/O assumes a little-endian host");

namespace {

using ojson = nlohmann::ordered_json;

// A header larger than this is surely corruption (real headers are kilobytes).
constexpr uint64_t kMaxHeaderBytes = uint64_t{100} << 20;

[[noreturn]] void fail_load(const std::string& path, const std::string& what) {
  detail::throw_error<IOError>("safetensors: cannot load '", path, "': ", what);
}

std::string sys_error() { return std::strerror(errno); }

// Closes a POSIX file descriptor on scope exit.
struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
};

bool write_all(int fd, const void* data, size_t n) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

// Reads exactly n bytes at `offset`; false on error or early end of file.
bool read_at(int fd, void* data, size_t n, uint64_t offset) {
  char* p = static_cast<char*>(data);
  while (n > 0) {
    ssize_t r = ::pread(fd, p, n, static_cast<off_t>(offset));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
    offset += static_cast<uint64_t>(r);
  }
  return true;
}

}  // namespace

const char* dtype_code(DType dt) {
  switch (dt) {
    case DType::f32: return "F32";
    case DType::f64: return "F64";
    case DType::i32: return "I32";
    case DType::i64: return "I64";
    case DType::u8: return "U8";
    case DType::bool_: return "BOOL";
  }
  return "?";
}

DType dtype_from_code(const std::string& code) {
  for (DType dt : {DType::f32, DType::f64, DType::i32, DType::i64, DType::u8, DType::bool_})
    if (code == dtype_code(dt)) return dt;
  detail::throw_error<ValueError>("unsupported dtype '", code, "' (kun reads F32, F64, I32, I64, U8, BOOL)");
}

void save(const std::string& path, const TensorDict& tensors, const std::map<std::string, std::string>& metadata) {
  // Header: metadata first (kun's format/version unless the caller set them), then tensors in order.
  ojson header = ojson::object();
  ojson meta = ojson::object();
  for (const auto& [k, v] : metadata) meta[k] = v;
  if (!meta.contains("format")) meta["format"] = "kun";
  if (!meta.contains("version")) meta["version"] = kFormatVersion;
  header["__metadata__"] = meta;

  std::vector<Tensor> data;  // contiguous versions, written in header order
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    KUN_CHECK(t.defined(), ValueError, "safetensors: cannot save '", path, "': tensor '", name, "' is undefined");
    KUN_CHECK(name != "__metadata__", ValueError, "safetensors: '__metadata__' is reserved and cannot name a tensor");
    Tensor c = t.contiguous();
    uint64_t nbytes = static_cast<uint64_t>(c.numel()) * c.element_size();
    ojson entry = ojson::object();
    entry["dtype"] = dtype_code(c.dtype());
    entry["shape"] = c.shape().vec();
    entry["data_offsets"] = {offset, offset + nbytes};
    header[name] = entry;
    offset += nbytes;
    data.push_back(std::move(c));
  }
  std::string h = header.dump();
  h.append((8 - h.size() % 8) % 8, ' ');  // keep the data section 8-byte aligned, like the reference writer
  uint64_t hlen = h.size();

  std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  auto fail = [&](const std::string& what) {
    ::unlink(tmp.c_str());
    detail::throw_error<IOError>("safetensors: cannot save '", path, "': ", what);
  };
  {
    Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (fd.fd < 0) fail("cannot create " + tmp + ": " + sys_error());
    unsigned char len8[8];
    for (int i = 0; i < 8; ++i) len8[i] = static_cast<unsigned char>(hlen >> (8 * i));
    if (!write_all(fd.fd, len8, 8) || !write_all(fd.fd, h.data(), h.size())) fail("write failed: " + sys_error());
    for (const Tensor& c : data)
      if (c.numel() > 0 && !write_all(fd.fd, c.raw_data(), static_cast<size_t>(c.numel()) * c.element_size()))
        fail("write failed: " + sys_error());
    if (::fsync(fd.fd) != 0) fail("fsync failed: " + sys_error());
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) fail("rename from " + tmp + " failed: " + sys_error());
  // Persist the rename itself (best effort: some file systems refuse fsync on directories).
  std::string dir = path.find('/') == std::string::npos ? "." : path.substr(0, path.find_last_of('/') + 1);
  Fd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dfd.fd >= 0) (void)::fsync(dfd.fd);
}

File load(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.fd < 0) fail_load(path, sys_error());
  struct stat st {};
  if (::fstat(fd.fd, &st) != 0) fail_load(path, sys_error());
  const uint64_t file_size = static_cast<uint64_t>(st.st_size);
  if (file_size < 8) fail_load(path, "file is " + std::to_string(file_size) + " bytes, too short for the 8-byte header length");

  unsigned char len8[8];
  if (!read_at(fd.fd, len8, 8, 0)) fail_load(path, "cannot read the header length");
  uint64_t hlen = 0;
  for (int i = 0; i < 8; ++i) hlen |= uint64_t{len8[i]} << (8 * i);
  if (hlen > kMaxHeaderBytes)
    fail_load(path, "header length " + std::to_string(hlen) + " is implausibly large (corrupt or not a safetensors file)");
  if (8 + hlen > file_size)
    fail_load(path, "header length " + std::to_string(hlen) + " exceeds the file size " + std::to_string(file_size) +
                        " (truncated?)");
  std::string h(hlen, '\0');
  if (!read_at(fd.fd, h.data(), hlen, 8)) fail_load(path, "cannot read the header");

  ojson header;
  try {
    header = ojson::parse(h);
  } catch (const std::exception& e) {
    fail_load(path, std::string("header is not valid JSON: ") + e.what());
  }
  if (!header.is_object()) fail_load(path, "header must be a JSON object");

  const uint64_t data_size = file_size - 8 - hlen;
  File out;
  struct Span {
    uint64_t begin, end;
    std::string name;
  };
  std::vector<Span> spans;
  std::vector<std::pair<std::string, std::pair<DType, Shape>>> specs;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const ojson& e = it.value();
    if (name == "__metadata__") {
      if (!e.is_object()) fail_load(path, "__metadata__ must be an object of strings");
      for (auto m = e.begin(); m != e.end(); ++m) {
        if (!m.value().is_string()) fail_load(path, "__metadata__ value of '" + m.key() + "' is not a string");
        out.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    const std::string where = "tensor '" + name + "': ";
    if (!e.is_object() || !e.contains("dtype") || !e.contains("shape") || !e.contains("data_offsets"))
      fail_load(path, where + "entry needs dtype, shape and data_offsets");
    if (!e["dtype"].is_string()) fail_load(path, where + "dtype must be a string");
    DType dt;
    try {
      dt = dtype_from_code(e["dtype"].get<std::string>());
    } catch (const ValueError& err) {
      fail_load(path, where + err.what());
    }
    const ojson& js = e["shape"];
    if (!js.is_array()) fail_load(path, where + "shape must be an array");
    if (js.size() > static_cast<size_t>(Shape::kMaxDims))
      fail_load(path, where + "shape has " + std::to_string(js.size()) + " dims, kun supports at most 8");
    Shape shape;
    uint64_t numel = 1;
    for (const auto& d : js) {
      if (!d.is_number_unsigned()) fail_load(path, where + "shape entries must be non-negative integers");
      uint64_t v = d.get<uint64_t>();
      // Cap at 2^56 elements so numel * dtype size cannot overflow 64 bits.
      if (v > (uint64_t{1} << 48) || (v != 0 && numel > (uint64_t{1} << 56) / v))
        fail_load(path, where + "shape is too large");
      numel *= v;
      shape.push_back(static_cast<int64_t>(v));
    }
    const ojson& off = e["data_offsets"];
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
      fail_load(path, where + "data_offsets must be [begin, end] with non-negative integers");
    uint64_t b = off[0].get<uint64_t>(), en = off[1].get<uint64_t>();
    if (b > en) fail_load(path, where + "data_offsets begin " + std::to_string(b) + " > end " + std::to_string(en));
    if (en > data_size)
      fail_load(path, where + "data_offsets end " + std::to_string(en) + " is past the data section (" +
                          std::to_string(data_size) + " bytes; truncated?)");
    uint64_t want = numel * dtype_size(dt);
    if (en - b != want)
      fail_load(path, where + "shape " + shape.str() + " of " + dtype_code(dt) + " needs " + std::to_string(want) +
                          " bytes, data_offsets span " + std::to_string(en - b));
    spans.push_back({b, en, name});
    specs.emplace_back(name, std::make_pair(dt, shape));
  }
  std::sort(spans.begin(), spans.end(), [](const Span& x, const Span& y) { return x.begin < y.begin; });
  for (size_t i = 1; i < spans.size(); ++i)
    if (spans[i].begin < spans[i - 1].end)
      fail_load(path, "tensors '" + spans[i - 1].name + "' and '" + spans[i].name + "' overlap in the data section");
  auto fmt = out.metadata.find("format");
  if (fmt != out.metadata.end() && fmt->second == "kun") {
    auto ver = out.metadata.find("version");
    if (ver == out.metadata.end() || ver->second != kFormatVersion)
      fail_load(path, "kun file version '" + (ver == out.metadata.end() ? std::string("?") : ver->second) +
                          "' is not supported (this build reads version " + kFormatVersion + ")");
  }

  // Header is sound: allocate and read each tensor straight into its storage.
  for (size_t i = 0; i < specs.size(); ++i) {
    const auto& [name, spec] = specs[i];
    Tensor t = Tensor::empty(spec.second, spec.first);
    const ojson& off = header[name]["data_offsets"];
    uint64_t b = off[0].get<uint64_t>(), en = off[1].get<uint64_t>();
    if (en > b && !read_at(fd.fd, t.raw_data(), en - b, 8 + hlen + b))
      fail_load(path, "cannot read data of tensor '" + name + "'");
    if (spec.first == DType::bool_) {
      // Any byte other than 0/1 is not a valid bool and would be undefined behaviour to read.
      uint8_t* p = static_cast<uint8_t*>(t.raw_data());
      for (int64_t k = 0; k < t.numel(); ++k)
        if (p[k] > 1) fail_load(path, "tensor '" + name + "': BOOL data holds a byte other than 0 or 1");
    }
    out.tensors.insert(name, std::move(t));
  }
  return out;
}

}  // namespace kun::safetensors
