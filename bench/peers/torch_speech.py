"""PyTorch / torchaudio side of bench/bench_speech.cpp (same settings as ../shared/bench/peers/bench_mfcc.py)."""
import torch
import torchaudio

from peer_common import report, setup, threads_from_argv, time_us

for th in threads_from_argv():
    setup(th)
    mfcc = torchaudio.transforms.MFCC(sample_rate=8000, n_mfcc=13, melkwargs=dict(
        n_fft=256, win_length=200, hop_length=80, n_mels=40, center=True))
    x = torch.randn(8000)
    report("mfcc_1s_8k", th, time_us(lambda: mfcc(x)))
    xb = torch.randn(64, 8000)
    report("mfcc_batch64_1s_8k", th, time_us(lambda: mfcc(xb)))

    mel = torchaudio.transforms.MelSpectrogram(sample_rate=16000, n_fft=400, hop_length=160, n_mels=80)
    db = torchaudio.transforms.AmplitudeToDB("power", top_db=80.0)
    x16 = torch.randn(16000)
    report("logmel_1s_16k", th, time_us(lambda: db(mel(x16))))

    g = torch.Generator().manual_seed(1)
    lp = torch.randn(100, 16, 28, generator=g).log_softmax(2).requires_grad_()
    targets = torch.randint(1, 28, (16, 20), generator=g)
    il = torch.full((16,), 100, dtype=torch.long)
    tl = torch.full((16,), 20, dtype=torch.long)

    def ctc():
        loss = torch.nn.functional.ctc_loss(lp, targets, il, tl, reduction="mean")
        (gr,) = torch.autograd.grad(loss, lp)
        return gr

    report("ctc_T100_N16_C28", th, time_us(ctc))
