// CTC loss (alpha-beta in log space), decoders and edit-distance metrics.
#include "kun/apps/speech/ctc.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <sstream>

#include "kun/core/threading.h"

namespace kun::speech {

namespace {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();

inline double lse2(double a, double b) {
  if (a == kNegInf) return b;
  if (b == kNegInf) return a;
  const double m = std::max(a, b);
  return m + std::log1p(std::exp(-std::abs(a - b)));
}

std::vector<int64_t> int_values(const Tensor& t, const char* op, const char* what) {
  KUN_CHECK(t.defined(), ValueError, op, ": ", what, " is undefined");
  KUN_CHECK(t.dtype() == DType::i64 || t.dtype() == DType::i32, TypeError, op, ": ", what,
            " must be int32 or int64, got ", t.dtype());
  return t.to_vector<int64_t>();
}

// log(exp(a) + exp(b) + exp(c)) with one log and two exps.
inline double lse3(double a, double b, double c) {
  const double m = std::max({a, b, c});
  if (m == kNegInf) return kNegInf;
  double sum = 0;
  for (double v : {a, b, c}) sum += v == m ? 1.0 : std::exp(v - m);
  // ties count once each: exp(0) == 1 for every maximal term, as wanted
  return m + std::log(sum);
}

// Thread-local work arrays of one sample.
thread_local std::vector<double> t_alpha, t_beta, t_lcab;

}  // namespace

CtcResult ctc_loss_forward(const Tensor& log_probs, const Tensor& targets, const Tensor& input_lengths,
                           const Tensor& target_lengths, const CtcOptions& opt) {
  const char* op = "ctc_loss";
  KUN_CHECK(log_probs.defined() && log_probs.dim() == 3, ShapeError, op, ": log_probs must be (T, N, C), got ",
            log_probs.defined() ? log_probs.shape() : Shape{});
  KUN_CHECK(is_floating(log_probs.dtype()), TypeError, op, ": log_probs must be float32 or float64, got ",
            log_probs.dtype());
  const int64_t T = log_probs.size(0), N = log_probs.size(1), C = log_probs.size(2);
  KUN_CHECK(opt.blank >= 0 && opt.blank < C, ValueError, op, ": blank must be in [0, C=", C, "), got ", opt.blank);
  KUN_CHECK(targets.defined() && (targets.dim() == 1 || targets.dim() == 2), ShapeError, op,
            ": targets must be (N, S) padded or 1-D concatenated, got ", targets.defined() ? targets.shape() : Shape{});
  KUN_CHECK(input_lengths.defined() && input_lengths.dim() == 1 && input_lengths.size(0) == N, ShapeError, op,
            ": input_lengths must be (N) with N=", N, ", got ", input_lengths.defined() ? input_lengths.shape() : Shape{});
  KUN_CHECK(target_lengths.defined() && target_lengths.dim() == 1 && target_lengths.size(0) == N, ShapeError, op,
            ": target_lengths must be (N) with N=", N, ", got ",
            target_lengths.defined() ? target_lengths.shape() : Shape{});
  if (targets.dim() == 2)
    KUN_CHECK(targets.size(0) == N, ShapeError, op, ": padded targets must be (N, S) with N=", N, ", got ",
              targets.shape());
  const std::vector<int64_t> tg = int_values(targets, op, "targets");
  const std::vector<int64_t> il = int_values(input_lengths, op, "input_lengths");
  const std::vector<int64_t> tl = int_values(target_lengths, op, "target_lengths");
  // Where each sample's labels start in tg.
  std::vector<int64_t> start(static_cast<size_t>(N));
  int64_t acc = 0;
  for (int64_t n = 0; n < N; ++n) {
    KUN_CHECK(il[n] >= 0 && il[n] <= T, ValueError, op, ": input_lengths[", n, "] = ", il[n], " is outside [0, T=", T,
              "]");
    KUN_CHECK(tl[n] >= 0, ValueError, op, ": target_lengths[", n, "] = ", tl[n], " is negative");
    if (targets.dim() == 2) {
      KUN_CHECK(tl[n] <= targets.size(1), ValueError, op, ": target_lengths[", n, "] = ", tl[n],
                " exceeds the padded target length S=", targets.size(1));
      start[n] = n * targets.size(1);
    } else {
      start[n] = acc;
      acc += tl[n];
      KUN_CHECK(acc <= targets.size(0), ValueError, op, ": target_lengths sum to more than the ", targets.size(0),
                " concatenated targets");
    }
    for (int64_t j = 0; j < tl[n]; ++j) {
      const int64_t c = tg[start[n] + j];
      KUN_CHECK(c >= 0 && c < C && c != opt.blank, ValueError, op, ": target ", j, " of sample ", n, " is ", c,
                "; labels must be in [0, C=", C, ") and differ from blank=", opt.blank);
    }
  }

  Tensor lp = log_probs.contiguous();
  Tensor per = Tensor::empty({N}, lp.dtype());
  Tensor grad;
  if (opt.compute_grad) grad = zeros({T, N, C}, lp.dtype());
  // Gradient scale of each sample under the reduction.
  std::vector<double> scale(static_cast<size_t>(N), 1.0);
  if (opt.reduction == CtcReduction::mean)
    for (int64_t n = 0; n < N; ++n) scale[n] = 1.0 / (static_cast<double>(std::max<int64_t>(tl[n], 1)) * N);

  KUN_DISPATCH_FLOAT(lp.dtype(), op, [&] {
    const scalar_t* P = lp.data<scalar_t>();
    scalar_t* out_nll = per.data<scalar_t>();
    scalar_t* G = opt.compute_grad ? grad.data<scalar_t>() : nullptr;
    parallel_for(N, 1, [&](int64_t nb, int64_t ne) {
      for (int64_t n = nb; n < ne; ++n) {
        const int64_t Tn = il[n], L = tl[n], S = 2 * L + 1;
        const int64_t* lab = tg.data() + start[n];
        auto label = [&](int64_t s) { return (s & 1) ? lab[s >> 1] : opt.blank; };
        auto lpv = [&](int64_t t, int64_t c) { return static_cast<double>(P[(t * N + n) * C + c]); };
        double nll;
        if (Tn == 0) {
          nll = L == 0 ? 0.0 : std::numeric_limits<double>::infinity();
        } else {
          std::vector<double>& alpha = t_alpha;
          alpha.assign(static_cast<size_t>(Tn * S), kNegInf);
          alpha[0] = lpv(0, opt.blank);
          if (S > 1) alpha[1] = lpv(0, label(1));
          for (int64_t t = 1; t < Tn; ++t) {
            const double* a0 = alpha.data() + (t - 1) * S;
            double* a1 = alpha.data() + t * S;
            const int64_t s_end = std::min(S, 2 * (t + 1));  // later states are unreachable this early
            for (int64_t s = 0; s < s_end; ++s) {
              const bool skip = s >= 2 && (s & 1) && label(s) != label(s - 2);
              const double v = skip ? lse3(a0[s], a0[s - 1], a0[s - 2]) : s >= 1 ? lse2(a0[s], a0[s - 1]) : a0[s];
              a1[s] = v == kNegInf ? kNegInf : v + lpv(t, label(s));
            }
          }
          const double* aT = alpha.data() + (Tn - 1) * S;
          const double ll = S > 1 ? lse2(aT[S - 1], aT[S - 2]) : aT[0];
          nll = -ll;
        }
        const bool infeasible = !std::isfinite(nll);
        out_nll[n] = static_cast<scalar_t>(infeasible && opt.zero_infinity ? 0.0 : nll);
        if (!G || infeasible || Tn == 0) continue;  // infeasible: zero gradient (torch: NaN unless zero_infinity)

        std::vector<double>& beta = t_beta;
        std::vector<double>& occ = t_lcab;
        const std::vector<double>& alpha = t_alpha;
        beta.assign(static_cast<size_t>(Tn * S), kNegInf);
        double* bT = beta.data() + (Tn - 1) * S;
        bT[S - 1] = lpv(Tn - 1, label(S - 1));
        if (S > 1) bT[S - 2] = lpv(Tn - 1, label(S - 2));
        for (int64_t t = Tn - 2; t >= 0; --t) {
          const double* b1 = beta.data() + (t + 1) * S;
          double* b0 = beta.data() + t * S;
          const int64_t s_begin = std::max<int64_t>(0, S - 2 * (Tn - t));  // earlier states cannot finish in time
          for (int64_t s = s_begin; s < S; ++s) {
            const bool skip = s + 2 < S && (s & 1) && label(s) != label(s + 2);
            const double v = skip ? lse3(b1[s], b1[s + 1], b1[s + 2]) : s + 1 < S ? lse2(b1[s], b1[s + 1]) : b1[s];
            b0[s] = v == kNegInf ? kNegInf : v + lpv(t, label(s));
          }
        }
        const double sc = scale[n];
        occ.resize(static_cast<size_t>(C));
        for (int64_t t = 0; t < Tn; ++t) {
          std::fill(occ.begin(), occ.end(), 0.0);
          const double* a = alpha.data() + t * S;
          const double* b = beta.data() + t * S;
          // Occupancy of label c at t: sum over its states of exp(alpha + beta - lp + nll) (alpha and beta
          // both include lp once); each term is a posterior probability, so <= 1: no overflow.
          for (int64_t s = 0; s < S; ++s) {
            const double ab = a[s] + b[s];
            if (ab == kNegInf) continue;
            const int64_t c = label(s);
            occ[c] += std::exp(ab - lpv(t, c) + nll);
          }
          scalar_t* g = G + (t * N + n) * C;
          for (int64_t c = 0; c < C; ++c) {
            const double v = opt.grad == CtcGrad::torch ? std::exp(lpv(t, c)) - occ[c] : -occ[c];
            g[c] = static_cast<scalar_t>(v * sc);
          }
        }
      }
    });
  });

  CtcResult r;
  r.per_sample = per;
  r.grad = grad;
  if (opt.reduction == CtcReduction::none) {
    r.loss = per;
  } else {
    const std::vector<double> v = per.to_vector<double>();
    double total = 0;
    for (int64_t n = 0; n < N; ++n)
      total += opt.reduction == CtcReduction::mean ? v[n] / static_cast<double>(std::max<int64_t>(tl[n], 1)) : v[n];
    if (opt.reduction == CtcReduction::mean && N > 0) total /= static_cast<double>(N);
    r.loss = scalar_tensor(total, lp.dtype());
  }
  return r;
}

// ---- decoding ----

namespace {

struct DecodeInput {
  Tensor lp;  // (T, N, C) contiguous float64
  std::vector<int64_t> lens;
  int64_t T, N, C;
};

DecodeInput decode_input(const Tensor& log_probs, const Tensor& input_lengths, int64_t blank, const char* op) {
  KUN_CHECK(log_probs.defined() && (log_probs.dim() == 2 || log_probs.dim() == 3), ShapeError, op,
            ": log_probs must be (T, N, C) or (T, C), got ", log_probs.defined() ? log_probs.shape() : Shape{});
  KUN_CHECK(is_floating(log_probs.dtype()), TypeError, op, ": log_probs must be float32 or float64, got ",
            log_probs.dtype());
  DecodeInput d;
  d.lp = (log_probs.dim() == 2 ? log_probs.unsqueeze(1) : log_probs).to(DType::f64).contiguous();
  d.T = d.lp.size(0);
  d.N = d.lp.size(1);
  d.C = d.lp.size(2);
  KUN_CHECK(blank >= 0 && blank < d.C, ValueError, op, ": blank must be in [0, C=", d.C, "), got ", blank);
  if (input_lengths.defined()) {
    d.lens = int_values(input_lengths, op, "input_lengths");
    KUN_CHECK(static_cast<int64_t>(d.lens.size()) == d.N, ShapeError, op, ": input_lengths must have N=", d.N,
              " entries, got ", d.lens.size());
    for (int64_t n = 0; n < d.N; ++n)
      KUN_CHECK(d.lens[n] >= 0 && d.lens[n] <= d.T, ValueError, op, ": input_lengths[", n, "] = ", d.lens[n],
                " is outside [0, T=", d.T, "]");
  } else {
    d.lens.assign(static_cast<size_t>(d.N), d.T);
  }
  return d;
}

struct Beam {
  double pb = kNegInf, pnb = kNegInf;  // log P(prefix, ending in blank / in its last label)
  double total() const { return lse2(pb, pnb); }
};

}  // namespace

std::vector<Hypothesis> ctc_greedy_decode(const Tensor& log_probs, const Tensor& input_lengths, int64_t blank) {
  DecodeInput d = decode_input(log_probs, input_lengths, blank, "ctc_greedy_decode");
  const double* P = d.lp.data<double>();
  std::vector<Hypothesis> out(static_cast<size_t>(d.N));
  for (int64_t n = 0; n < d.N; ++n) {
    int64_t prev = -1;
    for (int64_t t = 0; t < d.lens[n]; ++t) {
      const double* row = P + (t * d.N + n) * d.C;
      const int64_t best = std::max_element(row, row + d.C) - row;
      out[n].log_prob += row[best];
      if (best != blank && best != prev) out[n].tokens.push_back(best);
      prev = best;
    }
  }
  return out;
}

std::vector<std::vector<Hypothesis>> ctc_beam_search(const Tensor& log_probs, const Tensor& input_lengths,
                                                     const BeamSearchOptions& opt) {
  const char* op = "ctc_beam_search";
  KUN_CHECK(opt.beam_width >= 1, ValueError, op, ": beam_width must be >= 1, got ", opt.beam_width);
  KUN_CHECK(opt.n_best >= 1, ValueError, op, ": n_best must be >= 1, got ", opt.n_best);
  DecodeInput d = decode_input(log_probs, input_lengths, opt.blank, op);
  const double* P = d.lp.data<double>();
  std::vector<std::vector<Hypothesis>> out(static_cast<size_t>(d.N));
  parallel_for(d.N, 1, [&](int64_t nb, int64_t ne) {
    std::vector<int64_t> cand;
    for (int64_t n = nb; n < ne; ++n) {
      std::map<std::vector<int64_t>, Beam> beams;
      beams[{}].pb = 0.0;
      for (int64_t t = 0; t < d.lens[n]; ++t) {
        const double* row = P + (t * d.N + n) * d.C;
        // Candidate labels of this frame (the blank always takes part).
        cand.clear();
        for (int64_t c = 0; c < d.C; ++c)
          if (c == opt.blank || row[c] > opt.prune_log_prob) cand.push_back(c);
        if (opt.top_k_per_frame > 0 && static_cast<int64_t>(cand.size()) > opt.top_k_per_frame) {
          std::partial_sort(cand.begin(), cand.begin() + opt.top_k_per_frame, cand.end(),
                            [&](int64_t a, int64_t b) { return row[a] > row[b]; });
          cand.resize(static_cast<size_t>(opt.top_k_per_frame));
          if (std::find(cand.begin(), cand.end(), opt.blank) == cand.end()) cand.push_back(opt.blank);
        }
        std::map<std::vector<int64_t>, Beam> next;
        for (const auto& [prefix, b] : beams) {
          const int64_t last = prefix.empty() ? -1 : prefix.back();
          for (int64_t c : cand) {
            const double p = row[c];
            if (c == opt.blank) {
              Beam& nb2 = next[prefix];
              nb2.pb = lse2(nb2.pb, b.total() + p);
              continue;
            }
            std::vector<int64_t> ext = prefix;
            ext.push_back(c);
            Beam& ne2 = next[ext];
            if (c == last) {
              ne2.pnb = lse2(ne2.pnb, b.pb + p);  // a repeat needs a blank in between
              Beam& same = next[prefix];
              same.pnb = lse2(same.pnb, b.pnb + p);  // the repeat collapses into the prefix
            } else {
              ne2.pnb = lse2(ne2.pnb, b.total() + p);
            }
          }
        }
        // Keep the beam_width most likely prefixes.
        std::vector<std::pair<double, const std::vector<int64_t>*>> order;
        for (const auto& [prefix, b] : next) order.emplace_back(b.total(), &prefix);
        const size_t keep = std::min<size_t>(order.size(), static_cast<size_t>(opt.beam_width));
        std::partial_sort(order.begin(), order.begin() + keep, order.end(),
                          [](const auto& a, const auto& b) { return a.first > b.first; });
        std::map<std::vector<int64_t>, Beam> kept;
        for (size_t i = 0; i < keep; ++i) kept.emplace(*order[i].second, next[*order[i].second]);
        beams = std::move(kept);
      }
      std::vector<Hypothesis> hs;
      for (const auto& [prefix, b] : beams) hs.push_back({prefix, b.total()});
      std::sort(hs.begin(), hs.end(), [](const Hypothesis& a, const Hypothesis& b) { return a.log_prob > b.log_prob; });
      if (static_cast<int64_t>(hs.size()) > opt.n_best) hs.resize(static_cast<size_t>(opt.n_best));
      out[n] = std::move(hs);
    }
  });
  return out;
}

// ---- metrics ----

namespace {

template <typename T>
int64_t levenshtein(const std::vector<T>& a, const std::vector<T>& b) {
  std::vector<int64_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = static_cast<int64_t>(j);
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = static_cast<int64_t>(i);
    for (size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::vector<std::string> split_words(const std::string& s) {
  std::istringstream is(s);
  std::vector<std::string> w;
  for (std::string x; is >> x;) w.push_back(x);
  return w;
}

template <typename Seq, typename Dist, typename Len>
double error_rate(const std::vector<Seq>& refs, const std::vector<Seq>& hyps, const char* op, Dist&& dist, Len&& len) {
  KUN_CHECK(refs.size() == hyps.size(), ValueError, op, ": ", refs.size(), " references but ", hyps.size(),
            " hypotheses");
  int64_t errs = 0, total = 0;
  for (size_t i = 0; i < refs.size(); ++i) {
    errs += dist(refs[i], hyps[i]);
    total += len(refs[i]);
  }
  if (total == 0) return errs == 0 ? 0.0 : 1.0;
  return static_cast<double>(errs) / static_cast<double>(total);
}

}  // namespace

int64_t edit_distance(const std::vector<int64_t>& ref, const std::vector<int64_t>& hyp) { return levenshtein(ref, hyp); }
int64_t edit_distance(const std::vector<std::string>& ref, const std::vector<std::string>& hyp) {
  return levenshtein(ref, hyp);
}

double token_error_rate(const std::vector<std::vector<int64_t>>& refs, const std::vector<std::vector<int64_t>>& hyps) {
  return error_rate(
      refs, hyps, "token_error_rate", [](const auto& a, const auto& b) { return levenshtein(a, b); },
      [](const auto& a) { return static_cast<int64_t>(a.size()); });
}

double char_error_rate(const std::vector<std::string>& refs, const std::vector<std::string>& hyps) {
  return error_rate(
      refs, hyps, "char_error_rate",
      [](const std::string& a, const std::string& b) {
        return levenshtein(std::vector<char>(a.begin(), a.end()), std::vector<char>(b.begin(), b.end()));
      },
      [](const std::string& a) { return static_cast<int64_t>(a.size()); });
}

double word_error_rate(const std::vector<std::string>& refs, const std::vector<std::string>& hyps) {
  return error_rate(
      refs, hyps, "word_error_rate",
      [](const std::string& a, const std::string& b) { return levenshtein(split_words(a), split_words(b)); },
      [](const std::string& a) { return static_cast<int64_t>(split_words(a).size()); });
}

}  // namespace kun::speech
