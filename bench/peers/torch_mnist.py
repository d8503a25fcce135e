"""PyTorch side of bench/bench_mnist.cpp: the seeds' MNIST CNN (mirrors ../shared/bench/peers/bench_mnist_cnn.py).

Conv2d(1, 32, 3) -> ReLU -> MaxPool2d(2) -> Flatten -> Linear(5408, 128) -> ReLU -> Linear(128, 10),
CrossEntropyLoss, Adam 1e-3; a train step is zero_grad(set_to_none) + forward + loss + backward + step.
Inference in eval() + no_grad(), plus the TorchScript frozen model at batch 1 (peer-only case).
"""
import torch
import torch.nn as nn

from peer_common import report, setup, threads_from_argv, time_us


def make():
    return nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(13 * 13 * 32, 128), nn.ReLU(), nn.Linear(128, 10))


for th in threads_from_argv():
    setup(th)
    for bs in (64, 32):
        m = make()
        opt = torch.optim.Adam(m.parameters(), 1e-3)
        lossf = nn.CrossEntropyLoss()
        x = torch.rand(bs, 1, 28, 28)
        y = torch.randint(0, 10, (bs,))

        def step():
            opt.zero_grad(set_to_none=True)
            loss = lossf(m(x), y)
            loss.backward()
            opt.step()
        report(f"mnist_train_bs{bs}", th, time_us(step, warmup=10))
    m = make().eval()
    with torch.no_grad():
        x1 = torch.rand(1, 1, 28, 28)
        report("mnist_infer_bs1", th, time_us(lambda: m(x1), warmup=20))
        x256 = torch.rand(256, 1, 28, 28)
        report("mnist_infer_bs256", th, time_us(lambda: m(x256), warmup=5))
        sm = torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.trace(m, x1)))
        report("mnist_infer_bs1_torchscript", th, time_us(lambda: sm(x1), warmup=20))
