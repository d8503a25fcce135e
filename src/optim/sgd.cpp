#include "kun/optim/sgd.h"

#include "kun/core/threading.h"

namespace kun::optim {

namespace {

constexpr int64_t kGrain = 1 << 15;  // elements per thread chunk; below this one thread is faster

template <typename T>
void sgd_plain_range(int64_t lo, int64_t hi, T* w, const T* g, T lr, T wd) {
#pragma omp simd
  for (int64_t k = lo; k < hi; ++k) w[k] -= lr * (g[k] + wd * w[k]);
}

// kFirst: torch starts the buffer as a copy of the first step's gradient (no dampening).
template <typename T, bool kFirst, bool kNesterov>
void sgd_momentum_range(int64_t lo, int64_t hi, T* w, const T* g, T* b, T lr, T wd, T mom, T damp) {
#pragma omp simd
  for (int64_t k = lo; k < hi; ++k) {
    T d = g[k] + wd * w[k];
    T m;
    if constexpr (kFirst) m = d;
    else m = mom * b[k] + damp * d;
    b[k] = m;
    if constexpr (kNesterov) w[k] -= lr * (d + mom * m);
    else w[k] -= lr * m;
  }
}

}  // namespace

SGD::SGD(std::vector<Variable> params, const SGDOptions& opt) : SGD(one_group(std::move(params)), opt) {}

SGD::SGD(std::vector<ParamGroup> groups, const SGDOptions& opt)
    : Optimizer(std::move(groups), opt.lr, opt.weight_decay, "SGD"), opt_(opt) {
  KUN_CHECK(opt.momentum >= 0 && opt.dampening >= 0, ValueError, "SGD: momentum and dampening must be >= 0, got ",
            opt.momentum, " and ", opt.dampening);
  KUN_CHECK(!opt.nesterov || (opt.momentum > 0 && opt.dampening == 0), ValueError,
            "SGD: nesterov needs momentum > 0 and dampening == 0, got momentum ", opt.momentum, ", dampening ",
            opt.dampening);
}

void SGD::step() {
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
      const bool use_momentum = opt_.momentum != 0;
      const bool first = use_momentum && st.find("momentum_buffer") == nullptr;
      Tensor buf = use_momentum ? st.buffer("momentum_buffer", p.data()) : Tensor();
      const bool nesterov = opt_.nesterov;
      KUN_DISPATCH_FLOAT(p.dtype(), "SGD.step", [&] {
        using T = scalar_t;
        T* w = p.data().data<T>();
        const T* g = grad.data<T>();
        T* b = use_momentum ? buf.data<T>() : nullptr;
        const T tlr = static_cast<T>(lr), twd = static_cast<T>(wd), mom = static_cast<T>(opt_.momentum);
        const T damp = static_cast<T>(1.0 - opt_.dampening);
        parallel_for(p.numel(), kGrain, [&](int64_t lo, int64_t hi) {
          if (!use_momentum) sgd_plain_range<T>(lo, hi, w, g, tlr, twd);
          else if (first && nesterov) sgd_momentum_range<T, true, true>(lo, hi, w, g, b, tlr, twd, mom, damp);
          else if (first) sgd_momentum_range<T, true, false>(lo, hi, w, g, b, tlr, twd, mom, damp);
          else if (nesterov) sgd_momentum_range<T, false, true>(lo, hi, w, g, b, tlr, twd, mom, damp);
          else sgd_momentum_range<T, false, false>(lo, hi, w, g, b, tlr, twd, mom, damp);
        });
      });
    }
  }
}

}  // namespace kun::optim
