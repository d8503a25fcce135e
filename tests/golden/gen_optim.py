"""Golden trajectories of torch.optim optimizers and LR schedules for tests/optim/.

Optimizers: two small fixed parameters, a deterministic gradient grad = 2 * p + c (computed the
same way, in float32, by the C++ test), STEPS steps; the case stores the parameter after every step.
Schedules: the lr after construction and after each step() (ReduceLROnPlateau: after each metric).
Run from tests/golden/: /usr/bin/python3 gen_optim.py
"""
import torch

from golden import save, seeded, t

STEPS = 5


def optimizer_case(name, opt, groups=None, skip=(), **kw):
    seeded(0)
    p0 = torch.randn(3, 4)
    p1 = torch.randn(5)
    c0 = torch.linspace(-0.5, 0.5, 12).reshape(3, 4)
    c1 = torch.linspace(-0.3, 0.7, 5)
    inputs = {"p0": t(p0), "p1": t(p1), "c0": t(c0), "c1": t(c1)}
    w0 = p0.clone().requires_grad_(True)
    w1 = p1.clone().requires_grad_(True)
    cls = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW,
           "rmsprop": torch.optim.RMSprop, "adagrad": torch.optim.Adagrad}[opt]
    if groups:
        params = [{"params": [w0]}, dict({"params": [w1]}, **groups)]
    else:
        params = [w0, w1]
    o = cls(params, **kw)
    traj0, traj1 = [], []
    for s in range(STEPS):
        with torch.no_grad():
            w0.grad = 2 * w0 + c0
            w1.grad = None if s in skip else 2 * w1 + c1
        o.step()
        traj0.append(w0.detach().clone())
        traj1.append(w1.detach().clone())
    attrs = dict(kw, opt=opt, steps=STEPS, skip=list(skip))
    if groups:
        attrs["group1"] = groups
    return name, {"inputs": inputs, "attrs": attrs,
                  "outputs": {"p0": t(torch.stack(traj0)), "p1": t(torch.stack(traj1))}}


def schedule_case(name, make, epochs, metrics=None, attrs=None):
    w = torch.zeros(1, requires_grad=True)
    o = torch.optim.SGD([w], lr=0.1)
    s = make(o)
    lrs = [o.param_groups[0]["lr"]]
    for e in range(epochs):
        o.step()
        if metrics is not None:
            s.step(metrics[e])
        else:
            s.step()
        lrs.append(o.param_groups[0]["lr"])
    case = {"inputs": {}, "attrs": dict(attrs or {}, epochs=epochs, base_lr=0.1),
            "outputs": {"lrs": t(torch.tensor(lrs, dtype=torch.float64))}}
    if metrics is not None:
        case["inputs"]["metrics"] = t(torch.tensor(metrics, dtype=torch.float64))
    return name, case


def main():
    cases = dict([
        optimizer_case("sgd_plain", "sgd", lr=0.1),
        optimizer_case("sgd_weight_decay", "sgd", lr=0.1, weight_decay=0.05),
        optimizer_case("sgd_momentum_dampening", "sgd", lr=0.05, momentum=0.9, dampening=0.1),
        optimizer_case("sgd_nesterov_wd", "sgd", lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01),
        optimizer_case("sgd_groups", "sgd", groups={"lr": 0.01, "weight_decay": 0.1}, lr=0.1, momentum=0.5),
        optimizer_case("adam", "adam", lr=0.01),
        optimizer_case("adam_weight_decay", "adam", lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1),
        optimizer_case("adam_amsgrad", "adam", lr=0.02, amsgrad=True, weight_decay=0.01),
        optimizer_case("adam_skip", "adam", lr=0.01, skip=(1, 3)),
        optimizer_case("adamw", "adamw", lr=0.01, weight_decay=0.1),
        optimizer_case("adamw_amsgrad", "adamw", lr=0.01, weight_decay=0.05, amsgrad=True),
        optimizer_case("rmsprop", "rmsprop", lr=0.01),
        optimizer_case("rmsprop_centered_momentum", "rmsprop", lr=0.01, alpha=0.9, momentum=0.8, centered=True,
                       weight_decay=0.02),
        optimizer_case("adagrad", "adagrad", lr=0.1),
        optimizer_case("adagrad_decay_init", "adagrad", lr=0.1, lr_decay=0.05, initial_accumulator_value=0.3,
                       weight_decay=0.01, eps=1e-8),
    ])
    sched = torch.optim.lr_scheduler
    cases.update(dict([
        schedule_case("step_lr", lambda o: sched.StepLR(o, step_size=3, gamma=0.5), 10,
                      attrs={"kind": "step", "step_size": 3, "gamma": 0.5}),
        schedule_case("multistep_lr", lambda o: sched.MultiStepLR(o, milestones=[2, 5, 6], gamma=0.1), 9,
                      attrs={"kind": "multistep", "milestones": [2, 5, 6], "gamma": 0.1}),
        schedule_case("exponential_lr", lambda o: sched.ExponentialLR(o, gamma=0.9), 8,
                      attrs={"kind": "exponential", "gamma": 0.9}),
        schedule_case("cosine_lr", lambda o: sched.CosineAnnealingLR(o, T_max=10, eta_min=0.001), 10,
                      attrs={"kind": "cosine", "t_max": 10, "eta_min": 0.001}),
        schedule_case("linear_lr", lambda o: sched.LinearLR(o, start_factor=0.1, end_factor=1.0, total_iters=4), 7,
                      attrs={"kind": "linear", "start_factor": 0.1, "end_factor": 1.0, "total_iters": 4}),
        schedule_case("warmup_cosine", lambda o: sched.SequentialLR(
            o, [sched.LinearLR(o, start_factor=0.25, total_iters=3), sched.CosineAnnealingLR(o, T_max=6)],
            milestones=[3]), 9, attrs={"kind": "warmup_cosine", "start_factor": 0.25, "warmup": 3, "t_max": 6}),
        schedule_case("plateau_min", lambda o: sched.ReduceLROnPlateau(
            o, mode="min", factor=0.5, patience=2, threshold=0.01, cooldown=1, min_lr=0.02), 14,
            metrics=[1.0, 0.9, 0.95, 0.899, 0.91, 0.92, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2],
            attrs={"kind": "plateau", "mode": "min", "factor": 0.5, "patience": 2, "threshold": 0.01,
                   "threshold_mode": "rel", "cooldown": 1, "min_lr": 0.02}),
        schedule_case("plateau_max_abs", lambda o: sched.ReduceLROnPlateau(
            o, mode="max", factor=0.1, patience=1, threshold=0.05, threshold_mode="abs"), 10,
            metrics=[0.5, 0.52, 0.6, 0.61, 0.64, 0.66, 0.7, 0.7, 0.71, 0.8],
            attrs={"kind": "plateau", "mode": "max", "factor": 0.1, "patience": 1, "threshold": 0.05,
                   "threshold_mode": "abs", "cooldown": 0, "min_lr": 0.0}),
    ]))
    save("optim", cases)


if __name__ == "__main__":
    main()
