"""Golden values for kun's shape, indexing and normalization ops (run: cd tests/golden && /usr/bin/python3 gen_nnops.py).

Inputs are stored contiguous; where a case name says `_nc` the C++ test builds the same
non-contiguous view (documented per case in attrs["view"]) before calling the op.
"""
import torch
import torch.nn.functional as F

from golden import save, seeded, t

seeded(0)
cases = {}


def case(name, inputs, outputs, **attrs):
    cases[name] = {"inputs": {k: t(v) for k, v in inputs.items()}, "attrs": attrs,
                   "outputs": {k: t(v) for k, v in outputs.items()}}


def r(*shape):
    return torch.randn(*shape, dtype=torch.float32)


# ---------------- shape ops ----------------
a, b = r(2, 3), r(2, 2)
case("concat_dim1", {"a": a, "b": b}, {"y": torch.cat([a, b], 1)}, dim=1)
a, bt = r(2, 3, 2), r(2, 2, 3)
case("concat_neg_nc", {"a": a, "bt": bt}, {"y": torch.cat([a, bt.transpose(1, 2)], -1)}, dim=-1,
     view="b = bt.transpose(1, 2)")
a, b, c = r(2, 3), r(2, 3), r(2, 3)
case("stack_dim1", {"a": a, "b": b, "c": c}, {"y": torch.stack([a, b, c], 1)}, dim=1)
case("stack_neg", {"a": a, "b": b, "c": c}, {"y": torch.stack([a, b, c], -1)}, dim=-1)
x = r(2, 4)
y0, y1 = torch.split(x, [1, 3], -1)
case("split_sizes", {"x": x}, {"y0": y0, "y1": y1}, sizes=[1, 3], dim=-1)
x = r(7, 2)
ch = torch.chunk(x, 3, 0)
case("chunk3", {"x": x}, {f"y{i}": v for i, v in enumerate(ch)}, n=3, dim=0, count=len(ch))
x = r(2, 3)
case("pad_const_value", {"x": x}, {"y": F.pad(x, (1, 2), value=0.5)}, pads=[1, 2], mode="constant", value=0.5)
x = r(1, 2, 3, 3)
case("pad_const_2d", {"x": x}, {"y": F.pad(x, (1, 1, 2, 0))}, pads=[1, 1, 2, 0], mode="constant", value=0.0)
x = r(2, 4)
case("pad_const_crop", {"x": x}, {"y": F.pad(x, (-1, 2))}, pads=[-1, 2], mode="constant", value=0.0)
x = r(1, 2, 3, 4)
case("pad_reflect_2d", {"x": x}, {"y": F.pad(x, (2, 1, 1, 2), mode="reflect")}, pads=[2, 1, 1, 2], mode="reflect")
x = r(2, 2, 5)
case("pad_reflect_1d", {"x": x}, {"y": F.pad(x, (2, 3), mode="reflect")}, pads=[2, 3], mode="reflect")
x = r(1, 2, 3, 4)
case("pad_replicate_2d", {"x": x}, {"y": F.pad(x, (1, 2, 2, 1), mode="replicate")}, pads=[1, 2, 2, 1],
     mode="replicate")
xt = r(2, 4, 3)
case("pad_replicate_nc", {"xt": xt}, {"y": F.pad(xt.transpose(1, 2), (3, 1), mode="replicate")}, pads=[3, 1],
     mode="replicate", view="x = xt.transpose(1, 2)")

# ---------------- indexing ----------------
x = r(3, 4)
idx = torch.tensor([2, 0, 2], dtype=torch.int64)
case("index_select_dim1", {"x": x, "idx": idx}, {"y": torch.index_select(x, 1, idx)}, dim=1)
xt = r(5, 3)
idx = torch.tensor([4, 1], dtype=torch.int32)
case("index_select_neg_nc", {"xt": xt, "idx": idx}, {"y": torch.index_select(xt.t(), -1, idx.long())}, dim=-1,
     view="x = xt.t()")
x = r(3, 4)
idx = torch.tensor([[0, 3], [1, 1], [2, 0]])
case("gather_dim1", {"x": x, "idx": idx}, {"y": torch.gather(x, 1, idx)}, dim=1)
idx = torch.tensor([[2, 0, 1, 1], [0, 0, 2, 1]])
case("gather_dim0", {"x": x, "idx": idx}, {"y": torch.gather(x, 0, idx)}, dim=0)
x = r(3, 5)
idx = torch.tensor([[0, 0], [4, 1], [2, 2]])
src = r(3, 2)
case("scatter_add_dim1", {"x": x, "idx": idx, "src": src}, {"y": torch.scatter_add(x, 1, idx, src)}, dim=1)
x = r(3, 4)
idx = torch.tensor([[2, 0, 2, 1]])
src = r(2, 4)
case("scatter_add_dim0_bigsrc", {"x": x, "idx": idx, "src": src}, {"y": torch.scatter_add(x, 0, idx, src)}, dim=0)
w = r(6, 4)
idx = torch.tensor([[1, 5, 0], [5, 5, 2]])
case("embedding", {"w": w, "idx": idx}, {"y": F.embedding(idx, w)})
idx = torch.tensor([0, 2, 1, 3])
case("one_hot5", {"idx": idx}, {"y": F.one_hot(idx, 5)}, num_classes=5)
case("one_hot_infer", {"idx": idx}, {"y": F.one_hot(idx)}, num_classes=-1)
x = r(2, 3, 4)
mask = torch.tensor([[True], [False], [True]])
case("masked_fill_bcast", {"x": x, "mask": mask}, {"y": x.masked_fill(mask, -1.5)}, value=-1.5)
x = r(4, 6)
v, i = torch.topk(x, 3, dim=1)
case("topk_largest", {"x": x}, {"values": v, "indices": i}, k=3, dim=1, largest=True)
v, i = torch.topk(x, 2, dim=0, largest=False)
case("topk_smallest_dim0", {"x": x}, {"values": v, "indices": i}, k=2, dim=0, largest=False)

# ---------------- normalization ----------------
x, w, b = r(3, 5), r(5), r(5)
x.requires_grad_(True); w.requires_grad_(True); b.requires_grad_(True)
y = F.layer_norm(x, (5,), w, b, 1e-5)
gy = r(3, 5)
gx, gw, gb = torch.autograd.grad(y, [x, w, b], gy)
case("layer_norm_last1", {"x": x, "w": w, "b": b, "gy": gy}, {"y": y, "gx": gx, "gw": gw, "gb": gb}, eps=1e-5)
x = r(2, 3, 4) * 3 + 2
case("layer_norm_last2", {"x": x}, {"y": F.layer_norm(x, (3, 4), eps=1e-5)}, eps=1e-5)
xt, w = r(6, 4), r(6)
case("layer_norm_weight_nc", {"xt": xt, "w": w}, {"y": F.layer_norm(xt.t(), (6,), w, None, 1e-3)}, eps=1e-3,
     view="x = xt.t()")


def bn_case(name, shape, training, momentum=0.1, eps=1e-5, grads=False):
    C = shape[1]
    x = r(*shape) * 2 + 0.5
    w, b = r(C), r(C)
    rm, rv = r(C) * 0.1, torch.rand(C) + 0.5
    inputs = {"x": x.clone(), "w": w.clone(), "b": b.clone(), "rm": rm.clone(), "rv": rv.clone()}
    x.requires_grad_(True); w.requires_grad_(True); b.requires_grad_(True)
    y = F.batch_norm(x, rm, rv, w, b, training=training, momentum=momentum, eps=eps)
    outs = {"y": y, "rm": rm, "rv": rv}
    if grads:
        gy = r(*shape)
        inputs["gy"] = gy
        outs["gx"], outs["gw"], outs["gb"] = torch.autograd.grad(y, [x, w, b], gy)
    case(name, inputs, outs, training=training, momentum=momentum, eps=eps)


bn_case("batch_norm_train_2d", (4, 3), True, grads=True)
bn_case("batch_norm_train_3d", (2, 3, 5), True, momentum=0.3)
bn_case("batch_norm_train_4d", (2, 3, 2, 2), True, grads=True)
bn_case("batch_norm_eval_3d", (2, 3, 4), False, grads=True)

save("nnops", cases)
