"""Shared helpers for the golden-value generators (run with Debian's /usr/bin/python3 + python3-torch).

Each generator tests/golden/gen_<family>.py builds cases with PyTorch and calls save(family, cases);
the JSON it writes (tests/golden/<family>.json) is committed, so the C++ tests never need PyTorch.
A case is {"inputs": {name: tensor}, "attrs": {...}, "outputs": {name: tensor}}; a tensor is
{"shape": [...], "dtype": "float32" | "float64" | "int64" | ..., "data": [flat row-major values]}.
"""
import json
import os

import torch

HERE = os.path.dirname(os.path.abspath(__file__))


def t(x):
    """Serializes a torch tensor (or number) for the golden file."""
    if not isinstance(x, torch.Tensor):
        x = torch.tensor(x)
    x = x.detach().contiguous()
    dtype = str(x.dtype).replace("torch.", "")
    if x.dtype == torch.bool:
        data = [bool(v) for v in x.reshape(-1).tolist()]
    elif x.is_floating_point():
        data = [float(v) for v in x.reshape(-1).double().tolist()]
    else:
        data = [int(v) for v in x.reshape(-1).tolist()]
    return {"shape": list(x.shape), "dtype": dtype, "data": data}


def save(family, cases):
    path = os.path.join(HERE, f"{family}.json")
    with open(path, "w") as f:
        json.dump({"family": family, "generator": f"gen_{family}.py", "torch": torch.__version__, "cases": cases},
                  f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {path}: {len(cases)} cases")


def seeded(seed=0):
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)
