#include "kun/tensor/tensor.h"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <cstring>
#include <functional>
#include <sstream>

#include "cpu/loops.h"

namespace kun {

Tensor::Tensor(std::shared_ptr<Storage> storage, const Shape& shape, const Shape& strides, int64_t offset,
               DType dtype)
    : storage_(std::move(storage)), shape_(shape), strides_(strides), offset_(offset), dtype_(dtype) {}

Tensor Tensor::empty(const Shape& shape, DType dtype) {
  for (int64_t d : shape)
    KUN_CHECK(d >= 0, ShapeError, "Tensor::empty: dims must be >= 0, got shape ", shape);
  auto st = std::make_shared<Storage>(static_cast<size_t>(shape.numel()) * dtype_size(dtype));
  return Tensor(std::move(st), shape, contiguous_strides(shape), 0, dtype);
}

int64_t Tensor::size(int64_t d) const { return shape_[normalize_dim(d, dim(), "size")]; }

bool Tensor::is_contiguous() const {
  int64_t expect = 1;
  for (int i = dim() - 1; i >= 0; --i) {
    if (shape_[i] != 1 && strides_[i] != expect) return false;
    expect *= shape_[i];
  }
  return true;
}

void Tensor::check_dtype(DType want, const char* op) const {
  KUN_CHECK(defined(), ValueError, op, ": the tensor is undefined (default-constructed)");
  KUN_CHECK(dtype_ == want, TypeError, op, ": expected a ", want, " tensor, got ", dtype_);
}

namespace {
Shape infer_shape(const Shape& want, int64_t numel, const Shape& have, const char* op) {
  Shape out = want;
  int neg = -1;
  int64_t known = 1;
  for (int i = 0; i < out.size(); ++i) {
    if (out[i] == -1) {
      KUN_CHECK(neg < 0, ShapeError, op, ": only one dim may be -1, got ", want);
      neg = i;
    } else {
      KUN_CHECK(out[i] >= 0, ShapeError, op, ": dims must be >= 0 or -1, got ", want);
      known *= out[i];
    }
  }
  if (neg >= 0) {
    KUN_CHECK(known > 0 && numel % known == 0, ShapeError, op, ": cannot infer the -1 dim of ", want,
              " for a tensor of shape ", have, " (", numel, " elements)");
    out[neg] = numel / known;
  }
  KUN_CHECK(out.numel() == numel, ShapeError, op, ": shape ", want, " has ", out.numel(),
            " elements but the tensor of shape ", have, " has ", numel);
  return out;
}

// Strides for viewing (shape, strides) as new_shape without a copy, if possible.
bool view_strides(const Shape& shape, const Shape& strides, const Shape& new_shape, Shape& out) {
  out.resize(new_shape.size());
  if (shape.numel() == 0 || shape.size() == 0) {
    out = contiguous_strides(new_shape);
    return true;
  }
  // walk chunks of old dims that are mutually contiguous
  int view_d = new_shape.size() - 1;
  int64_t chunk_base_stride = strides.size() ? strides[strides.size() - 1] : 1;
  int64_t tensor_numel = 1, view_numel = 1;
  for (int d = shape.size() - 1; d >= 0; --d) {
    tensor_numel *= shape[d];
    if (d == 0 || (shape[d - 1] != 1 && strides[d - 1] != tensor_numel * chunk_base_stride)) {
      while (view_d >= 0 && (view_numel < tensor_numel || new_shape[view_d] == 1)) {
        out[view_d] = view_numel * chunk_base_stride;
        view_numel *= new_shape[view_d];
        --view_d;
      }
      if (view_numel != tensor_numel) return false;
      if (d > 0) {
        chunk_base_stride = strides[d - 1];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  return view_d == -1;
}
}  // namespace

Tensor Tensor::view(const Shape& shape) const {
  Shape ns = infer_shape(shape, numel(), shape_, "view");
  Shape st;
  KUN_CHECK(view_strides(shape_, strides_, ns, st), ShapeError, "view: cannot view a tensor of shape ", shape_,
            " with strides ", strides_, " as ", ns, " without a copy; call reshape() or contiguous() first");
  return Tensor(storage_, ns, st, offset_, dtype_);
}

Tensor Tensor::reshape(const Shape& shape) const {
  Shape ns = infer_shape(shape, numel(), shape_, "reshape");
  Shape st;
  if (view_strides(shape_, strides_, ns, st)) return Tensor(storage_, ns, st, offset_, dtype_);
  return contiguous().view(ns);
}

Tensor Tensor::permute(const std::vector<int64_t>& dims) const {
  KUN_CHECK(static_cast<int>(dims.size()) == dim(), ShapeError, "permute: expected ", dim(),
            " dims for a tensor of shape ", shape_, ", got ", dims.size());
  Shape ns, st;
  bool seen[Shape::kMaxDims] = {};
  for (int64_t d : dims) {
    int nd = normalize_dim(d, dim(), "permute");
    KUN_CHECK(!seen[nd], ValueError, "permute: dim ", nd, " appears twice; expected a permutation of 0..", dim() - 1);
    seen[nd] = true;
    ns.push_back(shape_[nd]);
    st.push_back(strides_[nd]);
  }
  return Tensor(storage_, ns, st, offset_, dtype_);
}

Tensor Tensor::transpose(int64_t d0, int64_t d1) const {
  int a = normalize_dim(d0, dim(), "transpose"), b = normalize_dim(d1, dim(), "transpose");
  Shape ns = shape_, st = strides_;
  std::swap(ns[a], ns[b]);
  std::swap(st[a], st[b]);
  return Tensor(storage_, ns, st, offset_, dtype_);
}

Tensor Tensor::t() const {
  KUN_CHECK(dim() == 2, ShapeError, "t: expected a 2-D tensor, got shape ", shape_, "; use transpose(d0, d1)");
  return transpose(0, 1);
}

Tensor Tensor::narrow(int64_t d, int64_t start, int64_t length) const {
  int a = normalize_dim(d, dim(), "narrow");
  if (start < 0) start += shape_[a];
  KUN_CHECK(start >= 0 && length >= 0 && start + length <= shape_[a], IndexError, "narrow: range [", start, ", ",
            start + length, ") is outside dim ", a, " of size ", shape_[a]);
  Shape ns = shape_;
  ns[a] = length;
  return Tensor(storage_, ns, strides_, offset_ + start * strides_[a], dtype_);
}

Tensor Tensor::slice(int64_t d, int64_t start, int64_t end, int64_t step) const {
  int a = normalize_dim(d, dim(), "slice");
  KUN_CHECK(step > 0, ValueError, "slice: step must be > 0, got ", step);
  int64_t n = shape_[a];
  if (start < 0) start += n;
  if (end < 0) end += n;
  start = std::clamp<int64_t>(start, 0, n);
  end = std::clamp<int64_t>(end, start, n);
  Shape ns = shape_, st = strides_;
  ns[a] = (end - start + step - 1) / step;
  st[a] = strides_[a] * step;
  return Tensor(storage_, ns, st, offset_ + start * strides_[a], dtype_);
}

Tensor Tensor::select(int64_t d, int64_t index) const {
  int a = normalize_dim(d, dim(), "select");
  int64_t n = shape_[a];
  KUN_CHECK(index >= -n && index < n, IndexError, "select: index ", index, " is out of range for dim ", a,
            " of size ", n);
  if (index < 0) index += n;
  Shape ns = shape_, st = strides_;
  ns.erase(a);
  st.erase(a);
  return Tensor(storage_, ns, st, offset_ + index * strides_[a], dtype_);
}

Tensor Tensor::expand(const Shape& shape) const {
  KUN_CHECK(shape.size() >= dim(), ShapeError, "expand: cannot expand shape ", shape_, " to fewer dims ", shape);
  Shape ns = shape, st;
  st.resize(shape.size());
  int lead = shape.size() - dim();
  for (int i = 0; i < shape.size(); ++i) {
    int j = i - lead;
    if (j < 0) {
      KUN_CHECK(shape[i] >= 0, ShapeError, "expand: new leading dims must be >= 0, got ", shape);
      st[i] = 0;
      continue;
    }
    if (shape[i] == -1) ns[i] = shape_[j];
    if (shape_[j] == ns[i]) {
      st[i] = strides_[j];
    } else {
      KUN_CHECK(shape_[j] == 1, ShapeError, "expand: cannot expand shape ", shape_, " to ", shape,
                " (dim ", i, " has size ", shape_[j], ", only size-1 dims can grow)");
      st[i] = 0;
    }
  }
  return Tensor(storage_, ns, st, offset_, dtype_);
}

Tensor Tensor::squeeze() const {
  Shape ns, st;
  for (int i = 0; i < dim(); ++i)
    if (shape_[i] != 1) {
      ns.push_back(shape_[i]);
      st.push_back(strides_[i]);
    }
  return Tensor(storage_, ns, st, offset_, dtype_);
}

Tensor Tensor::squeeze(int64_t d) const {
  int a = normalize_dim(d, dim(), "squeeze");
  if (dim() == 0 || shape_[a] != 1) return *this;
  Shape ns = shape_, st = strides_;
  ns.erase(a);
  st.erase(a);
  return Tensor(storage_, ns, st, offset_, dtype_);
}

Tensor Tensor::unsqueeze(int64_t d) const {
  int a = normalize_dim(d, dim() + 1, "unsqueeze");
  Shape ns = shape_, st = strides_;
  int64_t s = a < dim() ? strides_[a] * shape_[a] : 1;
  ns.insert(a, 1);
  st.insert(a, s);
  return Tensor(storage_, ns, st, offset_, dtype_);
}

Tensor Tensor::flatten(int64_t start_dim, int64_t end_dim) const {
  if (dim() == 0) return reshape({1});
  int s = normalize_dim(start_dim, dim(), "flatten"), e = normalize_dim(end_dim, dim(), "flatten");
  KUN_CHECK(s <= e, ValueError, "flatten: start_dim ", s, " must be <= end_dim ", e);
  Shape ns;
  for (int i = 0; i < s; ++i) ns.push_back(shape_[i]);
  int64_t p = 1;
  for (int i = s; i <= e; ++i) p *= shape_[i];
  ns.push_back(p);
  for (int i = e + 1; i < dim(); ++i) ns.push_back(shape_[i]);
  return reshape(ns);
}

Tensor Tensor::contiguous() const {
  if (is_contiguous()) return *this;
  return clone();
}

Tensor Tensor::clone() const {
  KUN_CHECK(defined(), ValueError, "clone: the tensor is undefined");
  Tensor out = Tensor::empty(shape_, dtype_);
  out.copy_(*this);
  return out;
}

Tensor Tensor::to(DType dt) const {
  if (dt == dtype_) return *this;
  Tensor out = Tensor::empty(shape_, dt);
  out.copy_(*this);
  return out;
}

namespace {
template <typename O, typename I>
O convert(I v) {
  if constexpr (std::is_same_v<O, bool>) return v != I(0);
  else return static_cast<O>(v);
}
}  // namespace

Tensor& Tensor::copy_(const Tensor& src) {
  KUN_CHECK(defined() && src.defined(), ValueError, "copy_: both tensors must be defined");
  Tensor s = src.shape() == shape_ ? src : src.expand(shape_);
  if (dtype_ == s.dtype() && is_contiguous() && s.is_contiguous()) {
    if (storage_->data() != s.storage()->data() || offset_ != s.offset())
      std::memcpy(raw_data(), s.raw_data(), numel() * element_size());
    return *this;
  }
  KUN_DISPATCH_ALL(dtype_, "copy_", [&] {
    using O = scalar_t;
    KUN_DISPATCH_ALL(s.dtype(), "copy_", [&] {
      using I = scalar_t;
      cpu::unary_loop<O, I>(*this, s, [](I v) { return convert<O, I>(v); });
    });
  });
  return *this;
}

Tensor& Tensor::fill_(double value) {
  KUN_CHECK(defined(), ValueError, "fill_: the tensor is undefined");
  KUN_DISPATCH_ALL(dtype_, "fill_", [&] {
    scalar_t v = convert<scalar_t, double>(value);
    Tensor src = Tensor::empty({}, dtype_);
    *src.data<scalar_t>() = v;
    cpu::unary_loop<scalar_t, scalar_t>(*this, src.expand(shape_), [](scalar_t x) { return x; });
  });
  return *this;
}

double Tensor::item_double() const {
  KUN_CHECK(defined() && numel() == 1, ValueError, "item: expected a tensor with exactly one element, got shape ",
            shape_);
  return KUN_DISPATCH_ALL(dtype_, "item", [&]() -> double {
    return static_cast<double>(*static_cast<const scalar_t*>(raw_data()));
  });
}

template <typename T>
T Tensor::item() const {
  KUN_CHECK(defined() && numel() == 1, ValueError, "item: expected a tensor with exactly one element, got shape ",
            shape_);
  return KUN_DISPATCH_ALL(dtype_, "item", [&]() -> T {
    return convert<T, scalar_t>(*static_cast<const scalar_t*>(raw_data()));
  });
}

template <typename T>
std::vector<T> Tensor::to_vector() const {
  KUN_CHECK(defined(), ValueError, "to_vector: the tensor is undefined");
  Tensor c = to(dtype_v<T>).contiguous();
  const T* p = static_cast<const T*>(c.raw_data());
  return std::vector<T>(p, p + numel());
}

#define KUN_INSTANTIATE_ACCESS(T)                  \
  template T Tensor::item<T>() const;              \
  template std::vector<T> Tensor::to_vector<T>() const;
KUN_INSTANTIATE_ACCESS(float)
KUN_INSTANTIATE_ACCESS(double)
KUN_INSTANTIATE_ACCESS(int32_t)
KUN_INSTANTIATE_ACCESS(int64_t)
KUN_INSTANTIATE_ACCESS(uint8_t)
template bool Tensor::item<bool>() const;

std::string Tensor::str(int max_per_dim) const {
  std::ostringstream os;
  if (!defined()) return "Tensor(undefined)";
  std::vector<double> v = to_vector<double>();
  Shape cs = contiguous_strides(shape_);
  bool fl = is_floating(dtype_);
  std::function<void(int, int64_t)> rec = [&](int d, int64_t off) {
    if (d == dim()) {
      if (fl) os << std::setprecision(6) << v[off];
      else os << static_cast<int64_t>(v[off]);
      return;
    }
    os << "[";
    int64_t n = shape_[d];
    for (int64_t i = 0; i < n; ++i) {
      if (n > max_per_dim && i == max_per_dim / 2) {
        os << "..., ";
        i = n - max_per_dim / 2;
      }
      rec(d + 1, off + i * cs[d]);
      if (i + 1 < n) os << (d + 1 == dim() ? ", " : ",\n" + std::string(d + 8, ' '));
    }
    os << "]";
  };
  os << "tensor(";
  rec(0, 0);
  os << ", shape=" << shape_ << ", dtype=" << dtype_ << ")";
  return os.str();
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) { return os << t.str(); }

// ---------------- factories ----------------

Tensor zeros(const Shape& s, DType dt) { return full(s, 0.0, dt); }
Tensor ones(const Shape& s, DType dt) { return full(s, 1.0, dt); }
Tensor full(const Shape& s, double v, DType dt) {
  Tensor t = Tensor::empty(s, dt);
  t.fill_(v);
  return t;
}
Tensor scalar_tensor(double v, DType dt) { return full({}, v, dt); }
Tensor zeros_like(const Tensor& t) { return zeros(t.shape(), t.dtype()); }
Tensor ones_like(const Tensor& t) { return ones(t.shape(), t.dtype()); }
Tensor full_like(const Tensor& t, double v) { return full(t.shape(), v, t.dtype()); }
Tensor empty_like(const Tensor& t) { return Tensor::empty(t.shape(), t.dtype()); }

Tensor arange(double start, double end, double step, DType dt) {
  KUN_CHECK(step != 0 && std::isfinite(start) && std::isfinite(end) && std::isfinite(step), ValueError,
            "arange: expected finite start/end and a non-zero step, got (", start, ", ", end, ", ", step, ")");
  int64_t n = static_cast<int64_t>(std::ceil((end - start) / step));
  if (n < 0) n = 0;
  Tensor t = Tensor::empty({n}, dt);
  KUN_DISPATCH_ALL(dt, "arange", [&] {
    scalar_t* p = t.data<scalar_t>();
    for (int64_t i = 0; i < n; ++i) p[i] = static_cast<scalar_t>(start + static_cast<double>(i) * step);
  });
  return t;
}
Tensor arange(int64_t n, DType dt) { return arange(0.0, static_cast<double>(n), 1.0, dt); }

Tensor linspace(double start, double end, int64_t steps, DType dt) {
  KUN_CHECK(steps >= 0, ValueError, "linspace: steps must be >= 0, got ", steps);
  Tensor t = Tensor::empty({steps}, dt);
  KUN_DISPATCH_FLOAT(dt, "linspace", [&] {
    scalar_t* p = t.data<scalar_t>();
    double step = steps > 1 ? (end - start) / static_cast<double>(steps - 1) : 0.0;
    for (int64_t i = 0; i < steps; ++i) p[i] = static_cast<scalar_t>(start + step * static_cast<double>(i));
  });
  return t;
}

Tensor eye(int64_t n, DType dt) {
  Tensor t = zeros({n, n}, dt);
  KUN_DISPATCH_ALL(dt, "eye", [&] {
    scalar_t* p = t.data<scalar_t>();
    for (int64_t i = 0; i < n; ++i) p[i * n + i] = scalar_t(1);
  });
  return t;
}

template <typename T>
Tensor from_vector(const std::vector<T>& values, const Shape& shape) {
  KUN_CHECK(static_cast<int64_t>(values.size()) == shape.numel(), ShapeError, "from_vector: ", values.size(),
            " values do not fill shape ", shape, " (", shape.numel(), " elements)");
  Tensor t = Tensor::empty(shape, dtype_v<T>);
  if (!values.empty()) std::memcpy(t.raw_data(), values.data(), values.size() * sizeof(T));
  return t;
}
template Tensor from_vector<float>(const std::vector<float>&, const Shape&);
template Tensor from_vector<double>(const std::vector<double>&, const Shape&);
template Tensor from_vector<int32_t>(const std::vector<int32_t>&, const Shape&);
template Tensor from_vector<int64_t>(const std::vector<int64_t>&, const Shape&);
template Tensor from_vector<uint8_t>(const std::vector<uint8_t>&, const Shape&);


Tensor tensor(std::initializer_list<float> values) { return from_vector(std::vector<float>(values)); }

// ---------------- random ----------------

namespace {
Generator& gen_or_default(Generator* g) { return g ? *g : default_generator(); }

// fill(i, words) for each element i with the Philox block of counter base + i.
template <typename T, typename F>
Tensor random_fill(const Shape& shape, DType dt, Generator* gen, const F& f) {
  Tensor t = Tensor::empty(shape, dt);
  Generator& g = gen_or_default(gen);
  uint64_t key = g.seed(), base = g.reserve(static_cast<uint64_t>(shape.numel()));
  T* p = static_cast<T*>(t.raw_data());
  parallel_for(shape.numel(), 16384, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) p[i] = f(philox(key, base + static_cast<uint64_t>(i)));
  });
  return t;
}
}  // namespace

Tensor uniform(const Shape& shape, double lo, double hi, DType dt, Generator* gen) {
  KUN_CHECK(lo <= hi && std::isfinite(lo) && std::isfinite(hi), ValueError, "uniform: expected finite lo <= hi, got [",
            lo, ", ", hi, ")");
  return KUN_DISPATCH_FLOAT(dt, "uniform", [&] {
    return random_fill<scalar_t>(shape, dt, gen, [&](const std::array<uint32_t, 4>& w) {
      if constexpr (std::is_same_v<scalar_t, float>)
        return static_cast<float>(lo + (hi - lo) * u32_to_unit_float(w[0]));
      else
        return lo + (hi - lo) * u64_to_unit_double(w[0], w[1]);
    });
  });
}

Tensor rand(const Shape& shape, DType dt, Generator* gen) { return uniform(shape, 0.0, 1.0, dt, gen); }

Tensor normal(const Shape& shape, double mean, double stddev, DType dt, Generator* gen) {
  KUN_CHECK(stddev >= 0 && std::isfinite(mean) && std::isfinite(stddev), ValueError,
            "normal: expected finite mean and stddev >= 0, got mean ", mean, ", stddev ", stddev);
  return KUN_DISPATCH_FLOAT(dt, "normal", [&] {
    return random_fill<scalar_t>(shape, dt, gen, [&](const std::array<uint32_t, 4>& w) {
      // Box-Muller on two 53-bit uniforms; u1 in (0, 1] so log is finite.
      double u1 = 1.0 - u64_to_unit_double(w[0], w[1]);
      double u2 = u64_to_unit_double(w[2], w[3]);
      double z = std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
      return static_cast<scalar_t>(mean + stddev * z);
    });
  });
}

Tensor randn(const Shape& shape, DType dt, Generator* gen) { return normal(shape, 0.0, 1.0, dt, gen); }

Tensor bernoulli(const Shape& shape, double p, DType dt, Generator* gen) {
  KUN_CHECK(p >= 0.0 && p <= 1.0, ValueError, "bernoulli: p must be in [0, 1], got ", p);
  Tensor u = rand(shape, DType::f64, gen);
  Tensor out = Tensor::empty(shape, dt);
  KUN_DISPATCH_ALL(dt, "bernoulli", [&] {
    cpu::unary_loop<scalar_t, double>(out, u, [p](double x) { return static_cast<scalar_t>(x < p ? 1 : 0); });
  });
  return out;
}

Tensor randint(int64_t low, int64_t high, const Shape& shape, DType dt, Generator* gen) {
  KUN_CHECK(low < high, ValueError, "randint: expected low < high, got [", low, ", ", high, ")");
  uint64_t range = static_cast<uint64_t>(high - low);
  return KUN_DISPATCH_ALL(dt, "randint", [&] {
    return random_fill<scalar_t>(shape, dt, gen, [&](const std::array<uint32_t, 4>& w) {
      uint64_t x = (uint64_t{w[0]} << 32) | w[1];
      return static_cast<scalar_t>(low + static_cast<int64_t>(x % range));
    });
  });
}

Tensor randperm(int64_t n, Generator* gen) {
  KUN_CHECK(n >= 0, ValueError, "randperm: n must be >= 0, got ", n);
  Tensor t = arange(n, DType::i64);
  int64_t* p = t.data<int64_t>();
  Generator& g = gen_or_default(gen);
  uint64_t key = g.seed(), base = g.reserve(static_cast<uint64_t>(n));
  for (int64_t i = n - 1; i > 0; --i) {  // Fisher-Yates
    auto w = philox(key, base + static_cast<uint64_t>(i));
    uint64_t x = (uint64_t{w[0]} << 32) | w[1];
    std::swap(p[i], p[static_cast<int64_t>(x % static_cast<uint64_t>(i + 1))]);
  }
  return t;
}

bool allclose(const Tensor& a, const Tensor& b, double rtol, double atol) {
  if (a.shape() != b.shape()) return false;
  auto va = a.to_vector<double>(), vb = b.to_vector<double>();
  for (size_t i = 0; i < va.size(); ++i) {
    if (std::isnan(va[i]) || std::isnan(vb[i])) return false;
    if (std::abs(va[i] - vb[i]) > atol + rtol * std::abs(vb[i])) return false;
  }
  return true;
}

}  // namespace kun
