#include "kun/optim/sgd.h"

#include "kun/core/threading.h"

namespace kun::optim {

namespace {
constexpr int64_t kGrain = 1 << 15;  // elements per thread chunk; below this one thread is faster
}

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
      KUN_DISPATCH_FLOAT(p.dtype(), "SGD.step", [&] {
        using T = scalar_t;
        T* w = p.data().data<T>();
        const T* g = grad.data<T>();
        T* b = use_momentum ? buf.data<T>() : nullptr;
        const T tlr = static_cast<T>(lr), twd = static_cast<T>(wd), mom = static_cast<T>(opt_.momentum);
        const T damp = static_cast<T>(1.0 - opt_.dampening);
        const bool nesterov = opt_.nesterov;
        parallel_for(p.numel(), kGrain, [&](int64_t lo, int64_t hi) {
          if (!use_momentum) {
_Pragma("omp simd")
            for (int64_t k = lo; k < hi; ++k) w[k] -= tlr * (g[k] + twd * w[k]);
            return;
          }
          for (int64_t k = lo; k < hi; ++k) {
            T d = g[k] + twd * w[k];
            T m = first ? d : mom * b[k] + damp * d;
            b[k] = m;
            w[k] -= tlr * (nesterov ? d + mom * m : m);
          }
        });
      });
    }
  }
}

}  // namespace kun::optim
