#include "kun/optim/adagrad.h"

#include <cmath>

#include "kun/core/threading.h"

namespace kun::optim {

namespace {

constexpr int64_t kGrain = 1 << 15;  // elements per thread chunk; below this one thread is faster

template <typename T>
void adagrad_range(int64_t lo, int64_t hi, T* w, const T* g, T* s, T clr, T wd, T eps) {
#pragma omp simd
  for (int64_t k = lo; k < hi; ++k) {
    T gk = g[k] + wd * w[k];
    T sk = s[k] + gk * gk;
    s[k] = sk;
    w[k] -= clr * gk / (std::sqrt(sk) + eps);
  }
}

}  // namespace

Adagrad::Adagrad(std::vector<Variable> params, const AdagradOptions& opt)
    : Adagrad(one_group(std::move(params)), opt) {}

Adagrad::Adagrad(std::vector<ParamGroup> groups, const AdagradOptions& opt)
    : Optimizer(std::move(groups), opt.lr, opt.weight_decay, "Adagrad"), opt_(opt) {
  KUN_CHECK(opt.lr_decay >= 0 && opt.initial_accumulator_value >= 0 && opt.eps >= 0, ValueError,
            "Adagrad: lr_decay, initial_accumulator_value and eps must be >= 0, got ", opt.lr_decay, ", ",
            opt.initial_accumulator_value, ", ", opt.eps);
}

void Adagrad::step() {
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
      Tensor sum_t = st.buffer("sum", p.data(), opt_.initial_accumulator_value);
      const double clr = lr / (1.0 + static_cast<double>(st.step - 1) * opt_.lr_decay);
      KUN_DISPATCH_FLOAT(p.dtype(), "Adagrad.step", [&] {
        using T = scalar_t;
        T* w = p.data().data<T>();
        const T* g = grad.data<T>();
        T* s = sum_t.data<T>();
        const T tclr = static_cast<T>(clr), twd = static_cast<T>(wd), eps = static_cast<T>(opt_.eps);
        parallel_for(p.numel(), kGrain,
                     [&](int64_t lo, int64_t hi) { adagrad_range<T>(lo, hi, w, g, s, tclr, twd, eps); });
      });
    }
  }
}

}  // namespace kun::optim
