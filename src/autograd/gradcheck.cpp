#include "kun/autograd/gradcheck.h"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace kun {

namespace {
// sum(out * w) in double
double project(const Tensor& out, const std::vector<double>& w) {
  auto v = out.to_vector<double>();
  double s = 0;
  for (size_t i = 0; i < v.size(); ++i) s += v[i] * w[i];
  return s;
}
}  // namespace

GradcheckResult gradcheck(const std::function<Variable(const std::vector<Variable>&)>& f,
                          const std::vector<Tensor>& inputs, const GradcheckOptions& opt) {
  GradcheckResult res;
  std::vector<int> which = opt.check_inputs;
  if (which.empty())
    for (size_t i = 0; i < inputs.size(); ++i)
      if (is_floating(inputs[i].dtype())) which.push_back(static_cast<int>(i));

  std::vector<Tensor> base;
  for (const auto& t : inputs) base.push_back(t.clone());
  auto make_vars = [&](bool req) {
    std::vector<Variable> vs;
    for (size_t i = 0; i < base.size(); ++i) {
      bool r = req && std::find(which.begin(), which.end(), static_cast<int>(i)) != which.end();
      vs.emplace_back(base[i], r);
    }
    return vs;
  };

  auto vars = make_vars(true);
  Variable out = f(vars);
  Generator g(opt.seed);
  Tensor w = uniform(out.shape(), -1.0, 1.0, DType::f64, &g);
  std::vector<double> wv = w.to_vector<double>();
  if (!out.requires_grad()) {
    res.ok = false;
    res.message = "output does not require grad: the op recorded no backward";
    return res;
  }
  out.backward(w.to(out.dtype()));

  for (int idx : which) {
    Tensor analytic = vars[idx].has_grad() ? vars[idx].grad().to(DType::f64).contiguous()
                                           : zeros(base[idx].shape(), DType::f64);
    const double* ga = analytic.data<double>();
    Tensor x = base[idx];  // contiguous clone: perturb in place
    int64_t n = x.numel();
    for (int64_t e = 0; e < n; ++e) {
      double orig = KUN_DISPATCH_FLOAT(x.dtype(), "gradcheck", [&]() -> double { return x.data<scalar_t>()[e]; });
      auto set = [&](double v) {
        KUN_DISPATCH_FLOAT(x.dtype(), "gradcheck", [&] { x.data<scalar_t>()[e] = static_cast<scalar_t>(v); });
      };
      double fp, fm;
      {
        NoGradGuard ng;
        set(orig + opt.eps);
        fp = project(f(make_vars(false)).data(), wv);
        set(orig - opt.eps);
        fm = project(f(make_vars(false)).data(), wv);
        set(orig);
      }
      double numeric = (fp - fm) / (2 * opt.eps);
      double err = std::abs(numeric - ga[e]);
      res.max_abs_err = std::max(res.max_abs_err, err);
      if (!(err <= opt.atol + opt.rtol * std::abs(numeric))) {
        std::ostringstream os;
        os << "input " << idx << " element " << e << ": analytic " << ga[e] << " vs numeric " << numeric
           << " (abs err " << err << ")";
        res.ok = false;
        res.message = os.str();
        return res;
      }
    }
  }
  return res;
}

}  // namespace kun
