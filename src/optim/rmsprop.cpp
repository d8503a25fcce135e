#include "kun/optim/rmsprop.h"

#include <cmath>

#include "kun/core/threading.h"

namespace kun::optim {

namespace {
constexpr int64_t kGrain = 1 << 15;
}

RMSProp::RMSProp(std::vector<Variable> params, const RMSPropOptions& opt)
    : RMSProp(one_group(std::move(params)), opt) {}

RMSProp::RMSProp(std::vector<ParamGroup> groups, const RMSPropOptions& opt)
    : Optimizer(std::move(groups), opt.lr, opt.weight_decay, "RMSProp"), opt_(opt) {
  KUN_CHECK(opt.alpha >= 0 && opt.eps >= 0 && opt.momentum >= 0, ValueError,
            "RMSProp: alpha, eps and momentum must be >= 0, got ", opt.alpha, ", ", opt.eps, ", ", opt.momentum);
}

void RMSProp::step() {
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
      Tensor sq_t = st.buffer("square_avg", p.data());
      Tensor avg_t = opt_.centered ? st.buffer("grad_avg", p.data()) : Tensor();
      Tensor buf_t = opt_.momentum > 0 ? st.buffer("momentum_buffer", p.data()) : Tensor();
      KUN_DISPATCH_FLOAT(p.dtype(), "RMSProp.step", [&] {
        using T = scalar_t;
        T* w = p.data().data<T>();
        const T* g = grad.data<T>();
        T* sq = sq_t.data<T>();
        T* ga = opt_.centered ? avg_t.data<T>() : nullptr;
        T* buf = opt_.momentum > 0 ? buf_t.data<T>() : nullptr;
        const T alpha = static_cast<T>(opt_.alpha), oma = static_cast<T>(1.0 - opt_.alpha);
        const T eps = static_cast<T>(opt_.eps), tlr = static_cast<T>(lr), twd = static_cast<T>(wd);
        const T mom = static_cast<T>(opt_.momentum);
        parallel_for(p.numel(), kGrain, [&](int64_t lo, int64_t hi) {
          for (int64_t k = lo; k < hi; ++k) {
            T gk = g[k] + twd * w[k];
            T s = alpha * sq[k] + oma * gk * gk;
            sq[k] = s;
            T denom;
            if (ga) {
              T a = alpha * ga[k] + oma * gk;
              ga[k] = a;
              denom = std::sqrt(s - a * a) + eps;
            } else {
              denom = std::sqrt(s) + eps;
            }
            if (buf) {
              T b = mom * buf[k] + gk / denom;
              buf[k] = b;
              w[k] -= tlr * b;
            } else {
              w[k] -= tlr * gk / denom;
            }
          }
        });
      });
    }
  }
}

}  // namespace kun::optim
