#include "kun/optim/adam.h"

#include <algorithm>
#include <cmath>

#include "kun/core/threading.h"

namespace kun::optim {

namespace {
constexpr int64_t kGrain = 1 << 15;

AdamOptions from_adamw(const AdamWOptions& o) {
  return AdamOptions{o.lr, o.beta1, o.beta2, o.eps, o.weight_decay, o.amsgrad};
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
        T* w = p.data().data<T>();
        const T* g = grad.data<T>();
        T* m = m_t.data<T>();
        T* v = v_t.data<T>();
        T* vmax = opt_.amsgrad ? vmax_t.data<T>() : nullptr;
        const T b1 = static_cast<T>(opt_.beta1), b2 = static_cast<T>(opt_.beta2);
        const T omb1 = static_cast<T>(1.0 - opt_.beta1), omb2 = static_cast<T>(1.0 - opt_.beta2);
        const T step_size = static_cast<T>(lr / bc1), inv_bc2_sqrt = static_cast<T>(1.0 / bc2_sqrt);
        const T eps = static_cast<T>(opt_.eps);
        const T l2 = decoupled_ ? T(0) : static_cast<T>(wd);
        const T decay = decoupled_ ? static_cast<T>(1.0 - lr * wd) : T(1);
        const bool ams = opt_.amsgrad;
        parallel_for(p.numel(), kGrain, [&](int64_t lo, int64_t hi) {
          if (ams) {
            for (int64_t k = lo; k < hi; ++k) {
              T wk = w[k] * decay;
              T gk = g[k] + l2 * wk;
              T mk = b1 * m[k] + omb1 * gk;
              T vk = b2 * v[k] + omb2 * gk * gk;
              T vm = std::max(vmax[k], vk);
              m[k] = mk;
              v[k] = vk;
              vmax[k] = vm;
              w[k] = wk - step_size * mk / (std::sqrt(vm) * inv_bc2_sqrt + eps);
            }
            return;
          }
_Pragma("omp simd")
          for (int64_t k = lo; k < hi; ++k) {
            T wk = w[k] * decay;
            T gk = g[k] + l2 * wk;
            T mk = b1 * m[k] + omb1 * gk;
            T vk = b2 * v[k] + omb2 * gk * gk;
            m[k] = mk;
            v[k] = vk;
            w[k] = wk - step_size * mk / (std::sqrt(vk) * inv_bc2_sqrt + eps);
          }
        });
      });
    }
  }
}

}  // namespace kun::optim
