// Fused recurrent layers: see include/kun/tensor/ops_rnn.h for the scheme and semantics.
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kun/core/threading.h"
#include "kun/tensor/ops_rnn.h"
#include "vec_math.h"

namespace kun {

int64_t rnn_gate_count(RnnMode mode) {
  switch (mode) {
    case RnnMode::lstm: return 4;
    case RnnMode::gru: return 3;
    default: return 1;
  }
}

const char* rnn_mode_name(RnnMode mode) {
  switch (mode) {
    case RnnMode::rnn_tanh: return "rnn_tanh";
    case RnnMode::rnn_relu: return "rnn_relu";
    case RnnMode::lstm: return "lstm";
    case RnnMode::gru: return "gru";
  }
  return "?";
}

RnnMode rnn_mode_from_name(std::string_view name) {
  if (name == "rnn_tanh" || name == "tanh") return RnnMode::rnn_tanh;
  if (name == "rnn_relu" || name == "relu") return RnnMode::rnn_relu;
  if (name == "lstm") return RnnMode::lstm;
  if (name == "gru") return RnnMode::gru;
  KUN_CHECK(false, ValueError, "rnn: unknown mode '", name, "', expected rnn_tanh, rnn_relu, lstm or gru");
  return RnnMode::lstm;
}

namespace {

template <typename T>
void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const T* A, int64_t lda, const T* B, int64_t ldb,
          T beta, T* C, int64_t ldc) {
  if (M == 0 || N == 0) return;
  const auto TA = ta ? CblasTrans : CblasNoTrans, TB = tb ? CblasTrans : CblasNoTrans;
  if constexpr (std::is_same_v<T, float>)
    cblas_sgemm(CblasRowMajor, TA, TB, (int)M, (int)N, (int)K, 1.0f, A, (int)lda, B, (int)ldb, beta, C, (int)ldc);
  else
    cblas_dgemm(CblasRowMajor, TA, TB, (int)M, (int)N, (int)K, 1.0, A, (int)lda, B, (int)ldb, beta, C, (int)ldc);
}

template <typename T>
inline T sigmoid1(T x) {
  if (x >= 0) return T(1) / (T(1) + std::exp(-x));
  const T e = std::exp(x);
  return e / (T(1) + e);
}

// In-place activations over one contiguous run (AVX2 for float32, scalar otherwise).
template <typename T>
void sigmoid_inplace(T* p, int64_t n) {
  int64_t j = 0;
#if KUN_VEC_AVX2
  if constexpr (std::is_same_v<T, float>)
    for (; j + 8 <= n; j += 8) _mm256_storeu_ps(p + j, cpu::vec::sigmoid(_mm256_loadu_ps(p + j)));
#endif
  for (; j < n; ++j) p[j] = sigmoid1(p[j]);
}

template <typename T>
void tanh_inplace(T* p, int64_t n) {
  int64_t j = 0;
#if KUN_VEC_AVX2
  if constexpr (std::is_same_v<T, float>)
    for (; j + 8 <= n; j += 8) _mm256_storeu_ps(p + j, cpu::vec::tanh(_mm256_loadu_ps(p + j)));
#endif
  for (; j < n; ++j) p[j] = std::tanh(p[j]);
}

// Row addressing of x / y / the saved buffers: row(t, n) in time-major or batch-first order.
struct Layout {
  int64_t T, N;
  bool batch_first;
  int64_t row(int64_t t, int64_t n) const { return batch_first ? n * T + t : t * N + n; }
  int64_t rstride() const { return batch_first ? T : 1; }  // rows between samples n and n+1
  int64_t rows() const { return T * N; }
};

// One direction of one layer, forward.
template <typename T>
struct ForwardDir {
  RnnMode mode;
  Layout L;
  int64_t H, G, GW;          // hidden size, gates, stored gate width (GRU keeps hn too: 4H)
  T* gates;                  // (rows, GW): holds x @ W_ih^T on entry, activated gates on exit
  const T* w_hh;             // (G*H, H)
  const T* bias;             // (G*H) bias added to the input projection (b_ih + b_hh; GRU n: b_in only)
  const T* b_hn;             // GRU: (H) hidden bias of the n gate
  T* h;                      // (N, H) running state, starts at h0
  T* c;                      // (N, H) LSTM cell state
  T* hprev;                  // (rows, H) or null (inference)
  T* cprev;                  // (rows, H) or null
  T* y;                      // output base (already offset to this direction's columns)
  int64_t ldy;
  const int64_t* len;        // (N) or null
  bool reverse;

  void run() {
    const int64_t N = L.N, GH = G * H;
    std::vector<T> gh(static_cast<size_t>(N * GH)), tmp(static_cast<size_t>(H));
    for (int64_t s = 0; s < L.T; ++s) {
      const int64_t t = reverse ? L.T - 1 - s : s;
      if (hprev)
        for (int64_t n = 0; n < N; ++n) std::memcpy(hprev + L.row(t, n) * H, h + n * H, sizeof(T) * H);
      if (cprev)
        for (int64_t n = 0; n < N; ++n) std::memcpy(cprev + L.row(t, n) * H, c + n * H, sizeof(T) * H);
      gemm<T>(false, true, N, GH, H, h, H, w_hh, H, T(0), gh.data(), GH);  // (N, H) @ (H, GH)
      for (int64_t n = 0; n < N; ++n) {
        const int64_t r = L.row(t, n);
        T* yr = y + r * ldy;
        if (len && t >= len[n]) {  // padded step: state carries over, output is zero
          std::fill(yr, yr + H, T(0));
          continue;
        }
        T* g = gates + r * GW;
        const T* a = gh.data() + n * GH;
        T* hn = h + n * H;
        switch (mode) {
          case RnnMode::rnn_tanh:
          case RnnMode::rnn_relu:
            for (int64_t j = 0; j < H; ++j) g[j] += bias[j] + a[j];
            if (mode == RnnMode::rnn_tanh)
              tanh_inplace(g, H);
            else
              for (int64_t j = 0; j < H; ++j) g[j] = g[j] > T(0) ? g[j] : T(0);
            for (int64_t j = 0; j < H; ++j) hn[j] = yr[j] = g[j];
            break;
          case RnnMode::lstm: {
            for (int64_t j = 0; j < GH; ++j) g[j] += bias[j] + a[j];
            sigmoid_inplace(g, 2 * H);  // i, f
            tanh_inplace(g + 2 * H, H);  // g
            sigmoid_inplace(g + 3 * H, H);  // o
            T* cn = c + n * H;
            for (int64_t j = 0; j < H; ++j) {
              cn[j] = g[H + j] * cn[j] + g[j] * g[2 * H + j];
              tmp[j] = cn[j];
            }
            tanh_inplace(tmp.data(), H);
            for (int64_t j = 0; j < H; ++j) hn[j] = yr[j] = g[3 * H + j] * tmp[j];
            break;
          }
          case RnnMode::gru: {
            for (int64_t j = 0; j < 2 * H; ++j) g[j] += bias[j] + a[j];
            sigmoid_inplace(g, 2 * H);  // r, z
            for (int64_t j = 0; j < H; ++j) {
              const T hh = a[2 * H + j] + (b_hn ? b_hn[j] : T(0));
              g[3 * H + j] = hh;
              g[2 * H + j] += bias[2 * H + j] + g[j] * hh;
            }
            tanh_inplace(g + 2 * H, H);  // n
            for (int64_t j = 0; j < H; ++j) {
              const T z = g[H + j];
              hn[j] = yr[j] = (T(1) - z) * g[2 * H + j] + z * hn[j];
            }
            break;
          }
        }
      }
    }
  }
};

// One direction of one layer, backward through time.
template <typename T>
struct BackwardDir {
  RnnMode mode;
  Layout L;
  int64_t H, G, GW;
  const T* gates;   // (rows, GW)
  const T* hprev;   // (rows, H)
  const T* cprev;   // (rows, H) LSTM
  const T* w_hh;    // (G*H, H)
  T* dG;            // (rows, G*H) gradient of the input-side pre-activations
  T* dGh;           // (rows, G*H) hidden-side pre-activations (== dG except for GRU's n gate)
  T* dh;            // (N, H) running, starts at dh_n
  T* dc;            // (N, H) LSTM
  const T* dy;      // output grad base (offset to this direction's columns) or null
  int64_t ldy;
  const int64_t* len;
  bool reverse;

  void run() {
    const int64_t N = L.N, GH = G * H;
    std::vector<T> tmp(static_cast<size_t>(H));
    for (int64_t s = L.T - 1; s >= 0; --s) {
      const int64_t t = reverse ? L.T - 1 - s : s;
      for (int64_t n = 0; n < N; ++n) {
        const int64_t r = L.row(t, n);
        T* dg = dG + r * GH;
        T* dgh = dGh + r * GH;
        if (len && t >= len[n]) {
          std::fill(dg, dg + GH, T(0));
          if (dgh != dg) std::fill(dgh, dgh + GH, T(0));
          continue;
        }
        const T* g = gates + r * GW;
        T* dhn = dh + n * H;
        if (dy) {
          const T* dyr = dy + r * ldy;
          for (int64_t j = 0; j < H; ++j) dhn[j] += dyr[j];
        }
        switch (mode) {
          case RnnMode::rnn_tanh:
            for (int64_t j = 0; j < H; ++j) {
              dg[j] = dhn[j] * (T(1) - g[j] * g[j]);
              dhn[j] = T(0);
            }
            break;
          case RnnMode::rnn_relu:
            for (int64_t j = 0; j < H; ++j) {
              dg[j] = g[j] > T(0) ? dhn[j] : T(0);
              dhn[j] = T(0);
            }
            break;
          case RnnMode::lstm: {
            const T* cp = cprev + r * H;
            for (int64_t j = 0; j < H; ++j) tmp[j] = g[H + j] * cp[j] + g[j] * g[2 * H + j];
            tanh_inplace(tmp.data(), H);
            T* dcn = dc + n * H;
            for (int64_t j = 0; j < H; ++j) {
              const T i = g[j], f = g[H + j], gg = g[2 * H + j], o = g[3 * H + j], tc = tmp[j];
              const T dcv = dcn[j] + dhn[j] * o * (T(1) - tc * tc);
              dg[j] = dcv * gg * i * (T(1) - i);
              dg[H + j] = dcv * cp[j] * f * (T(1) - f);
              dg[2 * H + j] = dcv * i * (T(1) - gg * gg);
              dg[3 * H + j] = dhn[j] * tc * o * (T(1) - o);
              dcn[j] = dcv * f;
              dhn[j] = T(0);
            }
            break;
          }
          case RnnMode::gru: {
            const T* hp = hprev + r * H;
            for (int64_t j = 0; j < H; ++j) {
              const T rr = g[j], z = g[H + j], nn = g[2 * H + j], hh = g[3 * H + j], d = dhn[j];
              const T dnp = d * (T(1) - z) * (T(1) - nn * nn);
              dg[j] = dgh[j] = dnp * hh * rr * (T(1) - rr);
              dg[H + j] = dgh[H + j] = d * (hp[j] - nn) * z * (T(1) - z);
              dg[2 * H + j] = dnp;
              dgh[2 * H + j] = dnp * rr;
              dhn[j] = d * z;
            }
            break;
          }
        }
      }
      // dh_prev += dGh_t @ W_hh: (N, GH) @ (GH, H); padded rows of dGh are zero, so they carry.
      gemm<T>(false, false, N, H, GH, dGh + L.row(t, 0) * GH, L.rstride() * GH, w_hh, H, T(1), dh, H);
    }
  }
};

struct Checked {
  int64_t T, N, I, H, G, D;
  std::vector<int64_t> len;
};

Checked check_input(const RnnLayerInput& in, const char* op) {
  const Tensor& x = in.x;
  KUN_CHECK(x.defined() && x.dim() == 3, ShapeError, op, ": input must be 3-D (", in.batch_first ? "N, T, I" : "T, N, I",
            "), got ", x.defined() ? x.shape() : Shape{});
  KUN_CHECK(is_floating(x.dtype()), TypeError, op, ": input must be float32 or float64, got ", x.dtype());
  const int64_t D = static_cast<int64_t>(in.weights.size());
  KUN_CHECK(D == 1 || D == 2, ValueError, op, ": expected weights for 1 or 2 directions, got ", D);
  Checked c;
  c.T = in.batch_first ? x.size(1) : x.size(0);
  c.N = in.batch_first ? x.size(0) : x.size(1);
  c.I = x.size(2);
  c.G = rnn_gate_count(in.mode);
  c.D = D;
  KUN_CHECK(c.T >= 1, ShapeError, op, ": sequence length must be >= 1, got input ", x.shape());
  const Tensor& w0 = in.weights[0].w_hh;
  KUN_CHECK(w0.defined() && w0.dim() == 2 && w0.size(0) % c.G == 0, ShapeError, op, ": w_hh must be (", c.G,
            "*H, H), got ", w0.defined() ? w0.shape() : Shape{});
  c.H = w0.size(1);
  const int64_t GH = c.G * c.H;
  for (const auto& w : in.weights) {
    KUN_CHECK(w.w_ih.defined() && w.w_ih.shape() == Shape({GH, c.I}), ShapeError, op, ": w_ih must be (", GH, ", ",
              c.I, ") for input ", x.shape(), ", got ", w.w_ih.defined() ? w.w_ih.shape() : Shape{});
    KUN_CHECK(w.w_hh.defined() && w.w_hh.shape() == Shape({GH, c.H}), ShapeError, op, ": w_hh must be (", GH, ", ",
              c.H, "), got ", w.w_hh.defined() ? w.w_hh.shape() : Shape{});
    for (const Tensor* t : {&w.w_ih, &w.w_hh, &w.b_ih, &w.b_hh})
      if (t->defined())
        KUN_CHECK(t->dtype() == x.dtype(), TypeError, op, ": parameters must have the input's dtype ", x.dtype(),
                  ", got ", t->dtype());
    for (const Tensor* b : {&w.b_ih, &w.b_hh})
      if (b->defined())
        KUN_CHECK(b->shape() == Shape({GH}), ShapeError, op, ": biases must be (", GH, "), got ", b->shape());
  }
  const Shape st{D, c.N, c.H};
  KUN_CHECK(!in.h0.defined() || (in.h0.shape() == st && in.h0.dtype() == x.dtype()), ShapeError, op,
            ": initial hidden state must be ", st, " ", x.dtype(), ", got ", in.h0.shape(), " ", in.h0.dtype());
  KUN_CHECK(!in.c0.defined() || in.mode == RnnMode::lstm, ValueError, op, ": a cell state is only used by LSTM");
  KUN_CHECK(!in.c0.defined() || (in.c0.shape() == st && in.c0.dtype() == x.dtype()), ShapeError, op,
            ": initial cell state must be ", st, " ", x.dtype(), ", got ", in.c0.shape(), " ", in.c0.dtype());
  if (in.lengths.defined()) {
    KUN_CHECK(in.lengths.dim() == 1 && in.lengths.size(0) == c.N, ShapeError, op, ": lengths must be (", c.N,
              "), got ", in.lengths.shape());
    KUN_CHECK(in.lengths.dtype() == DType::i64 || in.lengths.dtype() == DType::i32, TypeError, op,
              ": lengths must be int64 or int32, got ", in.lengths.dtype());
    c.len = in.lengths.to_vector<int64_t>();
    for (int64_t l : c.len)
      KUN_CHECK(l >= 0 && l <= c.T, ValueError, op, ": lengths must be in [0, ", c.T, "], got ", l);
  }
  return c;
}

template <typename T>
std::vector<T> input_bias(const RnnWeights& w, RnnMode mode, int64_t H, int64_t G) {
  std::vector<T> b(static_cast<size_t>(G * H), T(0));
  if (w.b_ih.defined()) {
    Tensor bi = w.b_ih.contiguous();
    const T* p = bi.data<T>();
    for (int64_t j = 0; j < G * H; ++j) b[j] += p[j];
  }
  if (w.b_hh.defined()) {
    Tensor bh = w.b_hh.contiguous();
    const T* p = bh.data<T>();
    const int64_t upto = mode == RnnMode::gru ? 2 * H : G * H;  // GRU's b_hn sits inside r * (...)
    for (int64_t j = 0; j < upto; ++j) b[j] += p[j];
  }
  return b;
}

// Runs fn(d) for each direction, concurrently when there are two and threads to spare. BLAS calls
// made inside an OpenMP parallel region run single-threaded (OpenBLAS's OpenMP build).
template <typename F>
void for_directions(int64_t D, const F& fn) {
  if (D == 2 && num_threads() >= 2 && !omp_in_parallel()) {
#pragma omp parallel for num_threads(2) schedule(static, 1)
    for (int64_t d = 0; d < 2; ++d) fn(d);
  } else {
    for (int64_t d = 0; d < D; ++d) fn(d);
  }
}

template <typename T>
void forward_impl(const RnnLayerInput& in, const Checked& c, const Tensor& x, RnnLayerOutput& out, bool save) {
  const Layout L{c.T, c.N, in.batch_first};
  const int64_t H = c.H, G = c.G, GH = G * H, GW = in.mode == RnnMode::gru ? 4 * H : GH, rows = L.rows();
  const int64_t ldy = c.D * H;
  std::vector<Tensor> gates(c.D), state_h(c.D), state_c(c.D);
  std::vector<std::vector<T>> biases(c.D);
  std::vector<Tensor> w_hh(c.D), b_hn(c.D);
  for (int64_t d = 0; d < c.D; ++d) {
    const RnnWeights& w = in.weights[d];
    gates[d] = Tensor::empty({rows, GW}, x.dtype());
    Tensor wih = w.w_ih.contiguous();
    // Input projection of every time step at once: (rows, I) @ (I, GH).
    gemm<T>(false, true, rows, GH, c.I, x.data<T>(), c.I, wih.data<T>(), c.I, T(0), gates[d].data<T>(), GW);
    biases[d] = input_bias<T>(w, in.mode, H, G);
    w_hh[d] = w.w_hh.contiguous();
    if (in.mode == RnnMode::gru && w.b_hh.defined()) b_hn[d] = w.b_hh.contiguous().narrow(0, 2 * H, H);
  }
  // h_n / c_n live in the packed buffer; they double as the running state.
  for (int64_t d = 0; d < c.D; ++d) {
    Tensor hd = out.h_n.select(0, d);
    if (in.h0.defined()) hd.copy_(in.h0.select(0, d)); else hd.zero_();
    if (in.mode == RnnMode::lstm) {
      Tensor cd = out.c_n.select(0, d);
      if (in.c0.defined()) cd.copy_(in.c0.select(0, d)); else cd.zero_();
    }
  }
  if (save) {
    out.saved.gates = gates;
    for (int64_t d = 0; d < c.D; ++d) {
      out.saved.hprev.push_back(Tensor::empty({rows, H}, x.dtype()));
      if (in.mode == RnnMode::lstm) out.saved.cprev.push_back(Tensor::empty({rows, H}, x.dtype()));
    }
  }
  const int64_t* len = c.len.empty() ? nullptr : c.len.data();
  for_directions(c.D, [&](int64_t d) {
    ForwardDir<T> f{in.mode,
                    L,
                    H,
                    G,
                    GW,
                    gates[d].data<T>(),
                    w_hh[d].data<T>(),
                    biases[d].data(),
                    b_hn[d].defined() ? b_hn[d].data<T>() : nullptr,
                    out.h_n.select(0, d).data<T>(),
                    in.mode == RnnMode::lstm ? out.c_n.select(0, d).data<T>() : nullptr,
                    save ? out.saved.hprev[d].data<T>() : nullptr,
                    save && in.mode == RnnMode::lstm ? out.saved.cprev[d].data<T>() : nullptr,
                    out.y.data<T>() + d * H,
                    ldy,
                    len,
                    d == 1};
    f.run();
  });
}

template <typename T>
void backward_impl(const RnnLayerInput& in, const Checked& c, const Tensor& x, const RnnLayerSaved& saved,
                   const Tensor& dy, const Tensor& dh_n, const Tensor& dc_n, RnnLayerGrads& g) {
  const Layout L{c.T, c.N, in.batch_first};
  const int64_t H = c.H, G = c.G, GH = G * H, GW = in.mode == RnnMode::gru ? 4 * H : GH, rows = L.rows();
  const bool gru = in.mode == RnnMode::gru, lstm = in.mode == RnnMode::lstm;
  std::vector<Tensor> dG(c.D), dGh(c.D), w_hh(c.D);
  g.dh0 = Tensor::empty({c.D, c.N, H}, x.dtype());
  if (lstm) g.dc0 = Tensor::empty({c.D, c.N, H}, x.dtype());
  for (int64_t d = 0; d < c.D; ++d) {
    dG[d] = Tensor::empty({rows, GH}, x.dtype());
    dGh[d] = gru ? Tensor::empty({rows, GH}, x.dtype()) : dG[d];
    w_hh[d] = in.weights[d].w_hh.contiguous();
    Tensor dh = g.dh0.select(0, d);
    if (dh_n.defined()) dh.copy_(dh_n.select(0, d)); else dh.zero_();
    if (lstm) {
      Tensor dc = g.dc0.select(0, d);
      if (dc_n.defined()) dc.copy_(dc_n.select(0, d)); else dc.zero_();
    }
  }
  const int64_t* len = c.len.empty() ? nullptr : c.len.data();
  for_directions(c.D, [&](int64_t d) {
    BackwardDir<T> b{in.mode,
                     L,
                     H,
                     G,
                     GW,
                     saved.gates[d].data<T>(),
                     saved.hprev[d].data<T>(),
                     lstm ? saved.cprev[d].data<T>() : nullptr,
                     w_hh[d].data<T>(),
                     dG[d].data<T>(),
                     dGh[d].data<T>(),
                     g.dh0.select(0, d).data<T>(),
                     lstm ? g.dc0.select(0, d).data<T>() : nullptr,
                     dy.defined() ? dy.data<T>() + d * H : nullptr,
                     c.D * H,
                     len,
                     d == 1};
    b.run();
  });
  // Whole-sequence GEMMs (BLAS threads these).
  g.dx = Tensor::empty(x.shape(), x.dtype());
  g.dw.resize(c.D);
  for (int64_t d = 0; d < c.D; ++d) {
    const RnnWeights& w = in.weights[d];
    Tensor wih = w.w_ih.contiguous();
    gemm<T>(false, false, rows, c.I, GH, dG[d].data<T>(), GH, wih.data<T>(), c.I, d == 0 ? T(0) : T(1),
            g.dx.data<T>(), c.I);
    RnnWeights& dw = g.dw[d];
    dw.w_ih = Tensor::empty({GH, c.I}, x.dtype());
    gemm<T>(true, false, GH, c.I, rows, dG[d].data<T>(), GH, x.data<T>(), c.I, T(0), dw.w_ih.data<T>(), c.I);
    dw.w_hh = Tensor::empty({GH, H}, x.dtype());
    gemm<T>(true, false, GH, H, rows, dGh[d].data<T>(), GH, saved.hprev[d].data<T>(), H, T(0), dw.w_hh.data<T>(), H);
    auto colsum = [&](const Tensor& m) {
      Tensor s = zeros({GH}, x.dtype());
      T* ps = s.data<T>();
      const T* pm = m.data<T>();
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t j = 0; j < GH; ++j) ps[j] += pm[r * GH + j];
      return s;
    };
    if (w.b_ih.defined()) dw.b_ih = colsum(dG[d]);
    if (w.b_hh.defined()) dw.b_hh = gru ? colsum(dGh[d]) : (w.b_ih.defined() ? dw.b_ih.clone() : colsum(dGh[d]));
  }
}

}  // namespace

RnnLayerOutput rnn_layer_forward(const RnnLayerInput& in, bool save_for_backward) {
  const Checked c = check_input(in, "rnn_layer_forward");
  const bool lstm = in.mode == RnnMode::lstm;
  const int64_t ny = c.T * c.N * c.D * c.H, ns = c.D * c.N * c.H;
  RnnLayerOutput out;
  out.packed = Tensor::empty({ny + ns * (lstm ? 2 : 1)}, in.x.dtype());
  const Shape yshape = in.batch_first ? Shape{c.N, c.T, c.D * c.H} : Shape{c.T, c.N, c.D * c.H};
  out.y = out.packed.narrow(0, 0, ny).view(yshape);
  out.h_n = out.packed.narrow(0, ny, ns).view({c.D, c.N, c.H});
  if (lstm) out.c_n = out.packed.narrow(0, ny + ns, ns).view({c.D, c.N, c.H});
  Tensor x = in.x.contiguous();
  KUN_DISPATCH_FLOAT(x.dtype(), "rnn_layer_forward", [&] { forward_impl<scalar_t>(in, c, x, out, save_for_backward); });
  return out;
}

RnnLayerGrads rnn_layer_backward(const RnnLayerInput& in, const RnnLayerSaved& saved, const Tensor& dy,
                                 const Tensor& dh_n, const Tensor& dc_n) {
  const Checked c = check_input(in, "rnn_layer_backward");
  KUN_CHECK(saved.gates.size() == static_cast<size_t>(c.D) && saved.hprev.size() == static_cast<size_t>(c.D),
            ValueError, "rnn_layer_backward: the forward pass was run without save_for_backward");
  Tensor x = in.x.contiguous();
  Tensor dyc = dy.defined() ? dy.contiguous() : Tensor();
  Tensor dhc = dh_n.defined() ? dh_n.contiguous() : Tensor();
  Tensor dcc = dc_n.defined() ? dc_n.contiguous() : Tensor();
  RnnLayerGrads g;
  KUN_DISPATCH_FLOAT(x.dtype(), "rnn_layer_backward",
                     [&] { backward_impl<scalar_t>(in, c, x, saved, dyc, dhc, dcc, g); });
  return g;
}

}  // namespace kun
