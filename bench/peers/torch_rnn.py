"""PyTorch side of bench/bench_rnn.cpp: the BiLSTM text model of ../shared/bench/peers/bench_text.py
and the Transformer encoder classifier of bench_transformer.py, one training step each."""
import torch
import torch.nn as nn

from peer_common import report, setup, threads_from_argv, time_us


class BiLSTM(nn.Module):
    def __init__(s, E):
        super().__init__()
        s.emb = nn.Embedding(10000, E)
        s.lstm = nn.LSTM(E, 64, batch_first=True, bidirectional=True)
        s.fc1 = nn.Linear(128, 64)
        s.fc2 = nn.Linear(64, 2)

    def forward(s, x):
        _, (h, _) = s.lstm(s.emb(x))
        return s.fc2(torch.relu(s.fc1(torch.cat([h[0], h[1]], 1))))


V, D, H, L, F, S, B = 20000, 256, 4, 4, 1024, 128, 32


class Enc(nn.Module):
    def __init__(s):
        super().__init__()
        s.tok = nn.Embedding(V, D)
        s.pos = nn.Embedding(S, D)
        layer = nn.TransformerEncoderLayer(D, H, F, dropout=0.1, batch_first=True)
        s.enc = nn.TransformerEncoder(layer, L)
        s.head = nn.Linear(D, 2)

    def forward(s, x):
        h = s.tok(x) + s.pos(torch.arange(x.shape[1]))
        return s.head(s.enc(h).mean(1))


def train_step(m, lr, x, y):
    opt = torch.optim.Adam(m.parameters(), lr)
    lossf = nn.CrossEntropyLoss()

    def step():
        opt.zero_grad(set_to_none=True)
        lossf(m(x), y).backward()
        opt.step()
    return step


for th in threads_from_argv():
    setup(th)
    for E in (128, 32):
        x = torch.randint(0, 10000, (32, 200))
        y = torch.randint(0, 2, (32,))
        report(f"bilstm_train_e{E}", th, time_us(train_step(BiLSTM(E), 1e-3, x, y), min_time=2.0))
    x = torch.randint(0, V, (B, S))
    y = torch.randint(0, 2, (B,))
    report("transformer_enc_train", th, time_us(train_step(Enc(), 1e-4, x, y), min_time=3.0))
