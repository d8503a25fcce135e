#include "kun/optim/rmsprop.h"

#include <cmath>

#include "kun/core/threading.h"

namespace kun::optim {

namespace {

constexpr int64_t kGrain = 1 << 15;  // elements per thread chunk; below this one thread is faster

template <typename T>
struct RMSCoef {
  T alpha, oma, eps, lr, wd, mom;
};

template <typename T, bool kCentered, bool kMomentum>
void rmsprop_range(int64_t lo, int64_t hi, T* w, const T* g, T* sq, T* ga, T* buf, const RMSCoef<T>& c) {
#pragma omp simd
  for (int64_t k = lo; k < hi; ++k) {
    T gk = g[k] + c.wd * w[k];
    T s = c.alpha * sq[k] + c.oma * gk * gk;
    sq[k] = s;
    T denom;
    if constexpr (kCentered) {
      T a = c.alpha * ga[k] + c.oma * gk;
      ga[k] = a;
      denom = std::sqrt(s - a * a) + c.eps;
    } else {
      denom = std::sqrt(s) + c.eps;
    }
    if constexpr (kMomentum) {
      T b = c.mom * buf[k] + gk / denom;
      buf[k] = b;
      w[k] -= c.lr * b;
    } else {
      w[k] -= c.lr * gk / denom;
    }
  }
}

}  // namespace

RMSProp::RMSProp(std::vector<Variable> params, const RMSPropOptions& opt) : RMSProp(one_group(std::move(params)), opt) {}

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
      const bool centered = opt_.centered, use_momentum = opt_.momentum > 0;
      Tensor sq_t = st.buffer("square_avg", p.data());
      Tensor avg_t = centered ? st.buffer("grad_avg", p.data()) : Tensor();
      Tensor buf_t = use_momentum ? st.buffer("momentum_buffer", p.data()) : Tensor();
      KUN_DISPATCH_FLOAT(p.dtype(), "RMSProp.step", [&] {
        using T = scalar_t;
        RMSCoef<T> c{static_cast<T>(opt_.alpha), static_cast<T>(1.0 - opt_.alpha), static_cast<T>(opt_.eps),
                     static_cast<T>(lr),         static_cast<T>(wd),                static_cast<T>(opt_.momentum)};
        T* w = p.data().data<T>();
        const T* g = grad.data<T>();
        T* sq = sq_t.data<T>();
        T* ga = centered ? avg_t.data<T>() : nullptr;
        T* buf = use_momentum ? buf_t.data<T>() : nullptr;
        parallel_for(p.numel(), kGrain, [&](int64_t lo, int64_t hi) {
          if (centered && use_momentum) rmsprop_range<T, true, true>(lo, hi, w, g, sq, ga, buf, c);
          else if (centered) rmsprop_range<T, true, false>(lo, hi, w, g, sq, ga, buf, c);
          else if (use_momentum) rmsprop_range<T, false, true>(lo, hi, w, g, sq, ga, buf, c);
          else rmsprop_range<T, false, false>(lo, hi, w, g, sq, ga, buf, c);
        });
      });
    }
  }
}

}  // namespace kun::optim
