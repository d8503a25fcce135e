#include "kun/optim/adam.h"

#include <algorithm>
#include <cmath>

#include "kun/core/threading.h"

namespace kun::optim {

namespace {

constexpr int64_t kGrain = 1 << 15;  // elements per thread chunk; below this one thread is faster

AdamOptions from_adamw(const AdamWOptions& o) {
  return AdamOptions{o.lr, o.beta1, o.beta2, o.eps, o.weight_decay, o.amsgrad};
}

// Coefficients of one Adam step, already in the parameter's dtype.
template <typename T>
struct AdamCoef {
  T b1, b2, omb1, omb2, step_size, inv_bc2_sqrt, eps, l2, decay;
};

// One fused pass over [lo, hi): decay, L2, both moments, (amsgrad max), update. Kept outside
// the dtype-dispatch macro so the simd pragma is honoured.
template <typename T, bool kAmsgrad>
void adam_range(int64_t lo, int64_t hi, T* w, const T* g, T* m, T* v, T* vmax, const AdamCoef<T>& c) {
#pragma omp simd
  for (int64_t k = lo; k < hi; ++k) {
    T wk = w[k] * c.decay;
    T gk = g[k] + c.l2 * wk;
    T mk = c.b1 * m[k] + c.omb1 * gk;
    T vk = c.b2 * v[k] + c.omb2 * gk * gk;
    m[k] = mk;
    v[k] = vk;
    if constexpr (kAmsgrad) {
      vk = std::max(vmax[k], vk);
      vmax[k] = vk;
    }
    w[k] = wk - c.step_size * mk / (std::sqrt(vk) * c.inv_bc2_sqrt + c.eps);
  }
}

}  // namespace

Adam::Adam(std::vector<Variable> params, const AdamOptions& opt)
    : Adam(one_group(std::move(params)), opt, false, "Adam") {}
Adam::Adam(std::vector<ParamGroup> groups, const AdamOptions& opt) : Adam(std::move(groups), opt, false, "Adam") {}

Adam::Adam(std::vector<ParamGroup> groups, const AdamOptions& opt, bool decoupled, const char* name)
    : Optimizer(std::move(groups), opt.lr, opt.weight_decay, name), opt_(opt), decoupled_(decoupled) {
  KUN_CHECK(opt.beta1 >= 0 && opt.beta1 < 1 && opt.beta2 >= 0 && opt.beta2 < 1, ValueError, name,
            ": betas must be in [0, 1), got (", opt.beta1, ", ", opt.beta2, ")");
  KUN_CHECK(opt.eps >= 0, ValueError, name, ": eps must be >= 0, got ", opt.eps);
}

AdamW::AdamW(std::vector<Variable> params, const AdamWOptions& opt)
    : Adam(one_group(std::move(params)), from_adamw(opt), true, "AdamW") {}
AdamW::AdamW(std::vector<ParamGroup> groups, const AdamWOptions& opt)
    : Adam(std::move(groups), from_adamw(opt), true, "AdamW") {}

void Adam::step() {
  NoGradGuard no_grad;
  auto& groups = param_groups();
  for (size_t gi = 0; gi < groups.size(); ++gi) {
    const double lr = *groups[gi].lr, wd = *groups[gi].weight_decay;
    for (size_t i = 0; i < groups[gi].params.size(); ++i) {
      const Variable& p = groups[gi].params[i];
      if (!p.has_grad()) continue;
      Tensor grad = checked_grad(p, gi, i);
      ParamState& st = state(gi, i);
      st.step += 1;
      Tensor m_t = st.buffer("exp_avg", p.data());
      Tensor v_t = st.buffer("exp_avg_sq", p.data());
      Tensor vmax_t = opt_.amsgrad ? st.buffer("max_exp_avg_sq", p.data()) : Tensor();
      // Scalars in double (as Python computes them), then one fused loop in the parameter's dtype.
      const double bc1 = 1.0 - std::pow(opt_.beta1, static_cast<double>(st.step));
      const double bc2_sqrt = std::sqrt(1.0 - std::pow(opt_.beta2, static_cast<double>(st.step)));
      KUN_DISPATCH_FLOAT(p.dtype(), "Adam.step", [&] {
        using T = scalar_t;
        AdamCoef<T> c{static_cast<T>(opt_.beta1),
                      static_cast<T>(opt_.beta2),
                      static_cast<T>(1.0 - opt_.beta1),
                      static_cast<T>(1.0 - opt_.beta2),
                      static_cast<T>(lr / bc1),
                      static_cast<T>(1.0 / bc2_sqrt),
                      static_cast<T>(opt_.eps),
                      decoupled_ ? T(0) : static_cast<T>(wd),            // Adam: L2 folded into the grad
                      decoupled_ ? static_cast<T>(1.0 - lr * wd) : T(1)};  // AdamW: decoupled decay
        T* w = p.data().data<T>();
        const T* g = grad.data<T>();
        T* m = m_t.data<T>();
        T* v = v_t.data<T>();
        T* vmax = opt_.amsgrad ? vmax_t.data<T>() : nullptr;
        const bool ams = opt_.amsgrad;
        parallel_for(p.numel(), kGrain, [&](int64_t lo, int64_t hi) {
          if (ams) adam_range<T, true>(lo, hi, w, g, m, v, vmax, c);
          else adam_range<T, false>(lo, hi, w, g, m, v, vmax, c);
        });
      });
    }
  }
}

}  // namespace kun::optim
