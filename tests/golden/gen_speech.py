"""Golden values for kun's speech features and CTC loss (tests/apps/speech/).

Run from tests/golden/ with Debian's /usr/bin/python3 (python3-torch 1.13 + python3-torchaudio 0.13.1):
    /usr/bin/python3 gen_speech.py
Synthetic signals are made here deterministically and stored as inputs; the real clips are read from
the Free Spoken Digit Dataset (../../../shared/data/fsdd/recordings, or $KUN_FSDD) and only their
names and features are stored (the C++ test reads the same WAVs). Floats are rounded to 9 significant
digits to keep speech.json small (8 digits: 1e-8 relative, far below the 1e-4 tests).
"""
import math
import os
import struct
import wave

import torch
import torchaudio
import torchaudio.functional as AF
import torchaudio.transforms as AT

from golden import HERE, save

FSDD = os.environ.get("KUN_FSDD", os.path.join(HERE, "..", "..", "..", "shared", "data", "fsdd"))
CLIPS = ["0_george_0.wav", "7_jackson_2.wav", "4_theo_45.wav"]


def t(x, digits=8):
    """Like golden.t but with `digits` significant digits for floats (17: exact float64)."""
    if not isinstance(x, torch.Tensor):
        x = torch.tensor(x)
    x = x.detach().contiguous()
    dtype = str(x.dtype).replace("torch.", "")
    if x.dtype == torch.bool:
        return {"shape": list(x.shape), "dtype": "bool", "data": [bool(v) for v in x.reshape(-1).tolist()]}
    if x.is_floating_point():
        data = [v if math.isinf(v) or math.isnan(v) else float(f"{v:.{digits}g}") for v in x.reshape(-1).double().tolist()]
    else:
        data = [int(v) for v in x.reshape(-1).tolist()]
    return {"shape": list(x.shape), "dtype": dtype, "data": data}


def synth(n, sr=8000, seed=0):
    """Two tones, a chirp and a little noise, float32."""
    g = torch.Generator().manual_seed(seed)
    tt = torch.arange(n, dtype=torch.float64) / sr
    x = 0.5 * torch.sin(2 * math.pi * 440 * tt) + 0.25 * torch.sin(2 * math.pi * (300 + 2000 * tt) * tt)
    x = x * torch.exp(-3 * tt) + 0.02 * torch.randn(n, generator=g, dtype=torch.float64)
    return x.float()


def read_wav(path):
    with wave.open(path) as w:
        assert w.getsampwidth() == 2 and w.getnchannels() == 1
        raw = w.readframes(w.getnframes())
    vals = struct.unpack(f"<{len(raw) // 2}h", raw)
    return torch.tensor(vals, dtype=torch.float32) / 32768.0


BENCH_MEL = dict(n_fft=256, win_length=200, hop_length=80, n_mels=40, center=True)

cases = {}
signals = {}


def sig(name, x):
    """Stores a synthetic input signal once (case "signals"); cases refer to it by attrs["signal"]."""
    signals[name] = t(x)
    return x


# ---- spectrograms on a short synthetic signal ----
x = sig("s400", synth(400))
cases["spec_power"] = {"inputs": {}, "attrs": {"signal": "s400", "n_fft": 64, "win_length": 48, "hop_length": 16},                        "outputs": {"y": t(AT.Spectrogram(n_fft=64, win_length=48, hop_length=16)(x))}}
cases["spec_mag_hamming_norm"] = {
    "inputs": {}, "attrs": {"signal": "s400", "n_fft": 64, "hop_length": 20},
    "outputs": {"y": t(AT.Spectrogram(n_fft=64, hop_length=20, window_fn=torch.hamming_window, power=1.0,
                                      normalized=True)(x))}}
cases["spec_nocenter_pad"] = {
    "inputs": {}, "attrs": {"signal": "s400", "n_fft": 50, "hop_length": 25, "pad": 7},
    "outputs": {"y": t(AT.Spectrogram(n_fft=50, hop_length=25, pad=7, center=False)(x))}}
cases["spec_constant_pad_mode"] = {
    "inputs": {}, "attrs": {"signal": "s400", "n_fft": 32, "hop_length": 16},
    "outputs": {"y": t(AT.Spectrogram(n_fft=32, hop_length=16, pad_mode="constant", power=1.5)(x))}}
xs = sig("s200", synth(200, seed=1))
st = torch.stft(xs, n_fft=32, hop_length=10, window=torch.hann_window(32), center=True, pad_mode="reflect",
                return_complex=True)
cases["stft_complex"] = {"inputs": {}, "attrs": {"signal": "s200", "n_fft": 32, "hop_length": 10},
                         "outputs": {"y": t(torch.view_as_real(st))}}
cases["window_hann_sym"] = {"inputs": {}, "attrs": {"n": 11},
                            "outputs": {"y": t(torch.hann_window(11, periodic=False))}}
cases["window_hamming"] = {"inputs": {}, "attrs": {"n": 16}, "outputs": {"y": t(torch.hamming_window(16))}}

# ---- filterbanks ----
cases["fbank_htk"] = {"inputs": {}, "attrs": {"n_freqs": 65, "n_mels": 24, "sr": 8000},
                      "outputs": {"y": t(AF.melscale_fbanks(65, 0.0, 4000.0, 24, 8000))}}
cases["fbank_slaney"] = {"inputs": {}, "attrs": {"n_freqs": 101, "n_mels": 32, "sr": 16000, "f_min": 20.0,
                                                 "f_max": 7600.0},
                         "outputs": {"y": t(AF.melscale_fbanks(101, 20.0, 7600.0, 32, 16000, norm="slaney",
                                                               mel_scale="slaney"))}}
cases["dct_ortho"] = {"inputs": {}, "attrs": {}, "outputs": {"y": t(AF.create_dct(13, 40, "ortho"))}}
cases["dct_none"] = {"inputs": {}, "attrs": {}, "outputs": {"y": t(AF.create_dct(8, 20, None))}}

# ---- mel / dB / MFCC on a synthetic 0.25 s signal (bench settings) ----
x = sig("s1200", synth(1200, seed=2))
mel = AT.MelSpectrogram(sample_rate=8000, **BENCH_MEL)(x)
cases["mel_htk"] = {"inputs": {}, "attrs": {"signal": "s1200"}, "outputs": {"y": t(mel)}}
cases["mel_slaney"] = {"inputs": {}, "attrs": {"signal": "s1200"},
                       "outputs": {"y": t(AT.MelSpectrogram(sample_rate=8000, norm="slaney", mel_scale="slaney",
                                                            **BENCH_MEL)(x))}}
cases["db_2d"] = {"inputs": {"x": t(mel[:, :6])}, "attrs": {"top_db": 40.0},
                  "outputs": {"y": t(AT.AmplitudeToDB("power", top_db=40.0)(mel[:, :6]))}}
mel3 = torch.stack([mel[:, :8], mel[:, :8] * 1e-3])
cases["db_3d_magnitude"] = {"inputs": {"x": t(mel3)}, "attrs": {"top_db": 50.0},
                            "outputs": {"y": t(AT.AmplitudeToDB("magnitude", top_db=50.0)(mel3))}}
m13 = AT.MFCC(sample_rate=8000, n_mfcc=13, melkwargs=BENCH_MEL)(x)
cases["mfcc_synth"] = {"inputs": {}, "attrs": {"signal": "s1200"}, "outputs": {"y": t(m13)}}
cases["mfcc_log_mels"] = {"inputs": {}, "attrs": {"signal": "s1200"},
                          "outputs": {"y": t(AT.MFCC(sample_rate=8000, n_mfcc=20, log_mels=True,
                                                     melkwargs=BENCH_MEL)(x))}}
cases["mfcc_default16k"] = {"inputs": {}, "attrs": {"signal": "s1000_16k"},
                            "outputs": {"y": t(AT.MFCC()(sig("s1000_16k", synth(1000, sr=16000, seed=3))))}}
d1 = AF.compute_deltas(m13)
cases["deltas"] = {"inputs": {"x": t(m13)}, "attrs": {},
                   "outputs": {"d1": t(d1), "d2": t(AF.compute_deltas(d1)), "d7": t(AF.compute_deltas(m13, 7))}}
sd = m13.std(-1, unbiased=False, keepdim=True).clamp_min(1e-10)
cases["cmvn"] = {"inputs": {"x": t(m13)}, "attrs": {},
                 "outputs": {"y": t((m13 - m13.mean(-1, keepdim=True)) / sd)}}
n_ = torch.arange(13, dtype=torch.float64).unsqueeze(1)
cases["lifter22"] = {"inputs": {"x": t(m13)}, "attrs": {},
                     "outputs": {"y": t(m13 * (1 + 11 * torch.sin(math.pi * n_ / 22)).float())}}

# ---- real FSDD clips: only names and features are stored ----
for i, name in enumerate(CLIPS):
    w = read_wav(os.path.join(FSDD, "recordings", name))
    mfcc = AT.MFCC(sample_rate=8000, n_mfcc=13, melkwargs=BENCH_MEL)(w)
    logmel = AT.AmplitudeToDB("power", top_db=80.0)(AT.MelSpectrogram(sample_rate=8000, **BENCH_MEL)(w))
    mel_sl = AT.MelSpectrogram(sample_rate=8000, norm="slaney", mel_scale="slaney", **BENCH_MEL)(w)
    out = {"mfcc": t(mfcc), "logmel": t(logmel)}
    if i == 0:  # the slaney mel and the deltas on one clip (keeps speech.json small)
        out["mel_slaney"] = t(mel_sl)
        out["deltas"] = t(AF.compute_deltas(mfcc))
    cases["fsdd_" + name[:-4]] = {"inputs": {}, "attrs": {"file": name, "samples": int(w.numel())}, "outputs": out}

# ---- CTC loss: torch.nn.functional.ctc_loss, loss per sample and torch's gradient convention ----
def ctc_case(name, T, N, C, targets, in_lens, tgt_lens, dtype, scale=1.0, seed=0, zero_infinity=False, blank=0):
    g = torch.Generator().manual_seed(seed)
    logits = (torch.randn(T, N, C, generator=g, dtype=torch.float64) * scale).to(dtype)
    lp = logits.log_softmax(2).detach()
    tg = torch.tensor(targets, dtype=torch.long)
    il, tl = torch.tensor(in_lens, dtype=torch.long), torch.tensor(tgt_lens, dtype=torch.long)
    out = {}
    out["loss_none"] = torch.nn.functional.ctc_loss(lp, tg, il, tl, blank=blank, reduction="none",
                                                    zero_infinity=zero_infinity)
    for red in ("sum", "mean"):
        x = lp.clone().requires_grad_()
        loss = torch.nn.functional.ctc_loss(x, tg, il, tl, blank=blank, reduction=red, zero_infinity=zero_infinity)
        loss.backward()
        out["loss_" + red] = loss.detach()
        out["grad_" + red] = x.grad
        if dtype == torch.float32 and scale > 10:
            # torch's float32 alpha-beta loses ~1e-4 on peaked inputs; kun accumulates in float64,
            # so also keep torch's float64 answer on the same (float32) log_probs.
            x = lp.double().requires_grad_()
            loss = torch.nn.functional.ctc_loss(x, tg, il, tl, blank=blank, reduction=red, zero_infinity=zero_infinity)
            loss.backward()
            out["grad_f64_" + red] = x.grad.float()
    if not zero_infinity and torch.isinf(out["loss_none"]).any():
        # JSON has no inf: keep a mask and the finite losses; torch's grads are NaN there, so none are kept.
        out = {"loss_none_isinf": torch.isinf(out["loss_none"]),
               "loss_none": torch.where(torch.isinf(out["loss_none"]), torch.zeros_like(out["loss_none"]),
                                        out["loss_none"])}
    d = 17 if dtype == torch.float64 else 9  # CTC cases are small: store them exactly
    cases[name] = {"inputs": {"log_probs": t(lp, d), "targets": t(tg), "input_lengths": t(il),
                              "target_lengths": t(tl)},
                   "attrs": {"blank": blank, "zero_infinity": zero_infinity},
                   "outputs": {k: t(v, d) for k, v in out.items()}}


ctc_case("ctc_small_f32", 12, 3, 5, [[1, 2, 2, 0], [3, 1, 4, 2], [4, 0, 0, 0]], [12, 10, 7], [3, 4, 1],
         torch.float32)
ctc_case("ctc_small_f64", 12, 3, 5, [[1, 2, 2, 0], [3, 1, 4, 2], [4, 0, 0, 0]], [12, 10, 7], [3, 4, 1],
         torch.float64, seed=1)
ctc_case("ctc_concat_targets", 9, 2, 4, [1, 1, 2, 3, 3], [9, 8], [3, 2], torch.float32, seed=2)
ctc_case("ctc_blank_last", 10, 2, 6, [[1, 2, 3], [0, 4, 0]], [10, 9], [3, 3], torch.float64, seed=3, blank=5)
ctc_case("ctc_extreme", 24, 2, 7, [[1, 2, 3, 4, 5], [6, 6, 5, 4, 0]], [24, 20], [5, 4], torch.float32,
         scale=40.0, seed=4)
# Infeasible: 2 frames cannot emit "1 1" (needs a blank between the repeats) -> inf loss.
ctc_case("ctc_infeasible", 2, 2, 3, [[1, 1], [2, 1]], [2, 2], [2, 2], torch.float64, seed=5)
ctc_case("ctc_infeasible_zero", 2, 2, 3, [[1, 1], [2, 1]], [2, 2], [2, 2], torch.float64, seed=5,
         zero_infinity=True)

cases["signals"] = {"inputs": signals, "attrs": {}, "outputs": {}}
save("speech", cases)
print("torchaudio", torchaudio.__version__, "size", os.path.getsize(os.path.join(HERE, "speech.json")))
