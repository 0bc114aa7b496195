#!/usr/bin/python3
"""Generate the GPT-2 reference fixture tests/data/gpt_ref.safetensors.

This is an independent, explicit PyTorch implementation of a GPT-2 style
model (learned positional embeddings, pre-LayerNorm blocks with eps=1e-5,
causal multi-head attention scaled by 1/sqrt(HS), 4x MLP with the tanh
approximation of GELU, final LayerNorm, LM head tied to the token embedding
wte without bias).  All arithmetic is done in float64 so the values serve as
an accurate reference for the C implementation.

Config: L=2, C=64, NH=4, maxT=32, V=Vp=256, batch B=4, T=32.

Parameter layout (row-major; weight matrices are (out_features, in_features)
as in torch.nn.Linear, y = x @ W^T + b; per-layer tensors are stacked along a
leading L axis):

    wte (Vp,C)  wpe (maxT,C)  ln1w (L,C)  ln1b (L,C)  qkvw (L,3C,C)
    qkvb (L,3C)  attprojw (L,C,C)  attprojb (L,C)  ln2w (L,C)  ln2b (L,C)
    fcw (L,4C,C)  fcb (L,4C)  fcprojw (L,C,4C)  fcprojb (L,C)  lnfw (C)
    lnfb (C)

qkvw rows [0,C) are Q, [C,2C) are K, [2C,3C) are V; head h uses columns
h*HS..(h+1)*HS-1 of each.  The initial parameters are rounded to float32 so
that a float32 consumer starts from exactly the same numbers.

The output file contains, in this order:

    x, y            I32 (B,T)      input tokens and targets
    param.<name>    F32            initial parameters (16 tensors)
    logits          F32 (B,T,Vp)   logits at the initial parameters
    loss            F64 (1,)       mean cross-entropy (natural log)
    grad.<name>     F32            d loss / d param at the initial parameters
    losses          F64 (10,)      loss before each of 10 AdamW steps on (x,y)

AdamW: lr=1e-3, beta1=0.9, beta2=0.95, eps=1e-8, weight_decay=0.1 applied
only to wte, wpe, qkvw, attprojw, fcw, fcprojw; no gradient clipping.

Run from the repository root:

    /usr/bin/python3 scripts/reference_gpt.py [--out tests/data/gpt_ref.safetensors]
"""
import argparse
import json
import math
import os
import struct

import torch

L, C, NH, MAXT, V = 2, 64, 4, 32, 256
VP = V
B, T = 4, 32
HS = C // NH
LN_EPS = 1e-5
LR, BETA1, BETA2, ADAM_EPS, WD = 1e-3, 0.9, 0.95, 1e-8, 0.1
STEPS = 10
DT = torch.float64

NAMES = ["wte", "wpe", "ln1w", "ln1b", "qkvw", "qkvb", "attprojw", "attprojb",
         "ln2w", "ln2b", "fcw", "fcb", "fcprojw", "fcprojb", "lnfw", "lnfb"]
SHAPES = {
    "wte": (VP, C), "wpe": (MAXT, C),
    "ln1w": (L, C), "ln1b": (L, C),
    "qkvw": (L, 3 * C, C), "qkvb": (L, 3 * C),
    "attprojw": (L, C, C), "attprojb": (L, C),
    "ln2w": (L, C), "ln2b": (L, C),
    "fcw": (L, 4 * C, C), "fcb": (L, 4 * C),
    "fcprojw": (L, C, 4 * C), "fcprojb": (L, C),
    "lnfw": (C,), "lnfb": (C,),
}
DECAYED = {"wte", "wpe", "qkvw", "attprojw", "fcw", "fcprojw"}


def init_params():
    torch.manual_seed(42)
    p = {}
    for n in NAMES:
        shape = SHAPES[n]
        if n in ("ln1w", "ln2w", "lnfw"):
            t = 1.0 + torch.empty(shape, dtype=DT).uniform_(-0.1, 0.1)
        elif n.endswith("b"):  # all biases, including LayerNorm biases
            t = torch.empty(shape, dtype=DT).uniform_(-0.05, 0.05)
        else:
            t = torch.empty(shape, dtype=DT).normal_(0.0, 0.02)
        # round to float32 and back so the float32 copy is exact
        p[n] = t.to(torch.float32).to(DT)
    return p


def layernorm(x, w, b):
    mean = x.mean(dim=-1, keepdim=True)
    var = ((x - mean) ** 2).mean(dim=-1, keepdim=True)  # biased variance
    return (x - mean) / torch.sqrt(var + LN_EPS) * w + b


def gelu_tanh(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def forward(p, idx, tgt):
    Bn, Tn = idx.shape
    x = p["wte"][idx] + p["wpe"][:Tn]  # (B,T,C)
    mask = torch.tril(torch.ones(Tn, Tn, dtype=torch.bool))
    for l in range(L):
        h = layernorm(x, p["ln1w"][l], p["ln1b"][l])
        qkv = h @ p["qkvw"][l].T + p["qkvb"][l]  # (B,T,3C)
        q, k, v = qkv[..., :C], qkv[..., C:2 * C], qkv[..., 2 * C:]
        q = q.reshape(Bn, Tn, NH, HS).transpose(1, 2)  # (B,NH,T,HS)
        k = k.reshape(Bn, Tn, NH, HS).transpose(1, 2)
        v = v.reshape(Bn, Tn, NH, HS).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(HS))
        att = att.masked_fill(~mask, float("-inf"))
        att = torch.softmax(att, dim=-1)
        y = (att @ v).transpose(1, 2).reshape(Bn, Tn, C)
        x = x + y @ p["attprojw"][l].T + p["attprojb"][l]
        h = layernorm(x, p["ln2w"][l], p["ln2b"][l])
        h = gelu_tanh(h @ p["fcw"][l].T + p["fcb"][l])
        x = x + h @ p["fcprojw"][l].T + p["fcprojb"][l]
    x = layernorm(x, p["lnfw"], p["lnfb"])
    logits = x @ p["wte"].T  # tied head, no bias
    logp = torch.log_softmax(logits, dim=-1)
    loss = -logp.gather(-1, tgt.unsqueeze(-1)).mean()
    return logits, loss


def loss_and_grads(p, x, y):
    leaves = {n: t.detach().clone().requires_grad_(True) for n, t in p.items()}
    logits, loss = forward(leaves, x, y)
    loss.backward()
    return logits.detach(), loss.detach(), {n: leaves[n].grad.detach().clone() for n in NAMES}


def finite_difference_check(p, x, y, grads):
    gen = torch.Generator().manual_seed(7)
    h = 1e-5
    max_abs, max_rel = 0.0, 0.0
    with torch.no_grad():
        for n in NAMES:
            flat = p[n].view(-1)
            for _ in range(3):
                i = int(torch.randint(0, flat.numel(), (1,), generator=gen))
                orig = flat[i].item()
                flat[i] = orig + h
                lp = forward(p, x, y)[1].item()
                flat[i] = orig - h
                lm = forward(p, x, y)[1].item()
                flat[i] = orig
                fd = (lp - lm) / (2 * h)
                ag = grads[n].view(-1)[i].item()
                err = abs(fd - ag)
                max_abs = max(max_abs, err)
                max_rel = max(max_rel, err / max(abs(fd), abs(ag), 1e-8))
    return max_abs, max_rel


def adamw_run(p, x, y):
    p = {n: t.clone() for n, t in p.items()}
    m = {n: torch.zeros_like(t) for n, t in p.items()}
    v = {n: torch.zeros_like(t) for n, t in p.items()}
    losses = []
    for k in range(STEPS):
        _, loss, g = loss_and_grads(p, x, y)
        losses.append(loss.item())
        t = k + 1
        for n in NAMES:
            if n in DECAYED:
                p[n] = p[n] - LR * WD * p[n]
            m[n] = BETA1 * m[n] + (1 - BETA1) * g[n]
            v[n] = BETA2 * v[n] + (1 - BETA2) * g[n] * g[n]
            mhat = m[n] / (1 - BETA1 ** t)
            vhat = v[n] / (1 - BETA2 ** t)
            p[n] = p[n] - LR * mhat / (torch.sqrt(vhat) + ADAM_EPS)
    return losses


def write_safetensors(path, tensors, metadata):
    """tensors: list of (name, dtype_str, shape, raw little-endian bytes)."""
    header = {}
    offset = 0
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": list(shape),
                        "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
    header["__metadata__"] = metadata
    hb = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hb += b" " * ((-len(hb)) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(hb)))
        f.write(hb)
        for _, _, _, raw in tensors:
            f.write(raw)
    os.replace(tmp, path)


def to_bytes(t, torch_dtype):
    a = t.detach().to(torch_dtype).contiguous().numpy()
    return a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join("tests", "data", "gpt_ref.safetensors"))
    args = ap.parse_args()

    params = init_params()
    gen = torch.Generator().manual_seed(1234)
    x = torch.randint(0, V, (B, T), generator=gen, dtype=torch.int64)
    y = torch.randint(0, V, (B, T), generator=gen, dtype=torch.int64)

    logits, loss, grads = loss_and_grads(params, x, y)
    print(f"loss at init: {loss.item():.10f} (ln(256) = {math.log(256):.10f})")

    max_abs, max_rel = finite_difference_check(params, x, y, grads)
    print(f"finite-difference check (48 elements, h=1e-5): max abs err {max_abs:.3e}, max rel err {max_rel:.3e}")
    if max_rel > 1e-5 and max_abs > 1e-9:
        raise SystemExit("error: autograd gradients disagree with finite differences")

    losses = adamw_run(params, x, y)
    for k, l_ in enumerate(losses):
        print(f"adamw step {k}: loss {l_:.10f}")

    tensors = [("x", "I32", (B, T), to_bytes(x, torch.int32)),
               ("y", "I32", (B, T), to_bytes(y, torch.int32))]
    for n in NAMES:
        tensors.append(("param." + n, "F32", SHAPES[n], to_bytes(params[n], torch.float32)))
    tensors.append(("logits", "F32", (B, T, VP), to_bytes(logits, torch.float32)))
    tensors.append(("loss", "F64", (1,), to_bytes(loss.reshape(1), torch.float64)))
    for n in NAMES:
        tensors.append(("grad." + n, "F32", SHAPES[n], to_bytes(grads[n], torch.float32)))
    tensors.append(("losses", "F64", (STEPS,), to_bytes(torch.tensor(losses, dtype=DT), torch.float64)))

    metadata = {"L": str(L), "C": str(C), "NH": str(NH), "maxT": str(MAXT), "V": str(V),
                "Vp": str(VP), "B": str(B), "T": str(T), "lr": repr(LR), "beta1": repr(BETA1),
                "beta2": repr(BETA2), "eps": repr(ADAM_EPS), "weight_decay": repr(WD),
                "steps": str(STEPS), "generator": "scripts/reference_gpt.py"}
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    write_safetensors(args.out, tensors, metadata)
    print(f"wrote {args.out} ({os.path.getsize(args.out)} bytes)")


if __name__ == "__main__":
    main()
