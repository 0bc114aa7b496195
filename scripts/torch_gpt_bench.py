#!/usr/bin/python3
"""PyTorch peer for frugal's CPU training speed/memory benchmarks.

A minimal nanoGPT-style GPT-2 (learned positional embeddings, pre-LayerNorm,
GELU(tanh), tied LM head) trained with AdamW (weight_decay=0.1 on 2-D
parameters, 0 on biases/LayerNorm; fused=False, foreach left at the default).
Each step is forward + backward + optimizer step on a (B,T) batch; after
--warmup untimed-for-stats steps, --steps steps are timed.

Run with OMP_WAIT_POLICY=PASSIVE under /usr/bin/python3 (the Debian PyTorch),
so idle OpenMP threads do not spin and distort timings on a small machine:

    OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 scripts/torch_gpt_bench.py \\
        --L 2 --C 64 --NH 4 --maxT 64 --V 256 --B 2 --T 32 --steps 3 --threads 2

--data names an llm.c-layout uint16 token shard (1024-byte header); random
tokens are used if omitted.  Per-step lines report the loss, the wall time and
the fraction of the machine's CPU used by other processes during the step.
The last line is machine-readable:

    JSON {"tokens_per_s": ..., "median_ms": ..., "best_ms": ..., "params": ...,
          "peak_rss_bytes": ..., "threads": ..., "B": ..., "T": ...}

tokens_per_s is B*T divided by the median step time.
"""
import argparse
import inspect
import json
import math
import os
import resource
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HZ = os.sysconf("SC_CLK_TCK")
NCPU = os.cpu_count() or 1


def cpu_sample():
    """(machine busy seconds, own cpu seconds), for a per-step contamination check."""
    with open("/proc/stat") as f:
        v = list(map(int, f.readline().split()[1:9]))
    r = resource.getrusage(resource.RUSAGE_SELF)
    return (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / HZ, r.ru_utime + r.ru_stime


class Block(nn.Module):
    def __init__(s, C, NH, maxT):
        super().__init__()
        s.ln1 = nn.LayerNorm(C)
        s.qkv = nn.Linear(C, 3 * C)
        s.proj = nn.Linear(C, C)
        s.ln2 = nn.LayerNorm(C)
        s.fc = nn.Linear(C, 4 * C)
        s.fcproj = nn.Linear(4 * C, C)
        s.NH = NH
        s.register_buffer("mask", torch.tril(torch.ones(maxT, maxT, dtype=torch.bool)).view(1, 1, maxT, maxT))

    def forward(s, x):
        B, T, C = x.shape
        q, k, v = s.qkv(s.ln1(x)).split(C, dim=2)
        q, k, v = [t.view(B, T, s.NH, C // s.NH).transpose(1, 2) for t in (q, k, v)]
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
        att = att.masked_fill(~s.mask[:, :, :T, :T], float("-inf")).softmax(dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
        x = x + s.proj(y)
        return x + s.fcproj(F.gelu(s.fc(s.ln2(x)), approximate="tanh"))


class GPT(nn.Module):
    def __init__(s, L, C, NH, maxT, V):
        super().__init__()
        s.wte = nn.Embedding(V, C)
        s.wpe = nn.Embedding(maxT, C)
        s.h = nn.ModuleList([Block(C, NH, maxT) for _ in range(L)])
        s.lnf = nn.LayerNorm(C)
        s.head = nn.Linear(C, V, bias=False)
        s.head.weight = s.wte.weight  # tied
        for m in s.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, 0.0, 0.02)
            if isinstance(m, nn.Linear) and m.bias is not None:
                nn.init.zeros_(m.bias)

    def forward(s, idx, tgt):
        T = idx.size(1)
        x = s.wte(idx) + s.wpe(torch.arange(T))
        for b in s.h:
            x = b(x)
        logits = s.head(s.lnf(x))
        return F.cross_entropy(logits.view(-1, logits.size(-1)), tgt.view(-1))


def main():
    p = argparse.ArgumentParser(description="PyTorch GPT-2 CPU training benchmark")
    p.add_argument("--L", type=int, required=True)
    p.add_argument("--C", type=int, required=True)
    p.add_argument("--NH", type=int, required=True)
    p.add_argument("--maxT", type=int, required=True)
    p.add_argument("--V", type=int, required=True)
    p.add_argument("--B", type=int, required=True)
    p.add_argument("--T", type=int, required=True)
    p.add_argument("--steps", type=int, default=8)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--data", default=None, help="llm.c-layout uint16 token shard; random tokens if omitted")
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    if a.C % a.NH or a.T > a.maxT or a.steps < 1:
        p.error("need C % NH == 0, T <= maxT and steps >= 1")
    if os.environ.get("OMP_WAIT_POLICY", "").upper() != "PASSIVE":
        print("warning: OMP_WAIT_POLICY=PASSIVE is not set", file=sys.stderr)

    torch.set_num_threads(a.threads)
    torch.manual_seed(1337)
    model = GPT(a.L, a.C, a.NH, a.maxT, a.V)
    nparams = sum(q.numel() for q in model.parameters())  # tied weight counted once
    decay = [q for q in model.parameters() if q.dim() >= 2]
    no_decay = [q for q in model.parameters() if q.dim() < 2]
    # fused=False where the keyword exists (PyTorch >= 2.0); older AdamW is never fused
    extra = {"fused": False} if "fused" in inspect.signature(torch.optim.AdamW).parameters else {}
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=1e-4, betas=(0.9, 0.95), eps=1e-8, **extra)

    BT = a.B * a.T
    if a.data:
        raw = np.fromfile(a.data, dtype=np.uint16, offset=1024).astype(np.int64)
        if raw.size < BT + 2:
            p.error("token shard too small for one batch")
        if int(raw.max()) >= a.V:
            p.error(f"token shard contains token {int(raw.max())} >= V={a.V}")
    else:
        raw = np.random.default_rng(0).integers(0, a.V, size=max(1 << 20, 2 * BT + 2), dtype=np.int64)

    ts, cs = [], []
    for step in range(a.warmup + a.steps):
        off = (step * BT) % (raw.size - BT - 1)
        buf = torch.from_numpy(raw[off:off + BT + 1])
        x, y = buf[:-1].view(a.B, a.T), buf[1:].view(a.B, a.T)
        b0, o0 = cpu_sample()
        t0 = time.perf_counter()
        loss = model(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        dt = (time.perf_counter() - t0) * 1e3
        b1, o1 = cpu_sample()
        foreign = max(0.0, ((b1 - b0) - (o1 - o0)) / (NCPU * dt / 1e3))
        warm = step < a.warmup
        print(f"step {step}: loss {loss.item():.4f} {dt:.1f} ms foreign_cpu={foreign:.3f}"
              f"{' (warmup)' if warm else ''}", flush=True)
        if not warm:
            ts.append(dt)
            if foreign < 0.05:
                cs.append(dt)

    med = statistics.median(ts)
    best = min(ts)
    threads = torch.get_num_threads()
    print(f"RESULT B={a.B} T={a.T} params={nparams} threads={threads} min_ms={best:.1f} "
          f"med_ms={med:.1f} max_ms={max(ts):.1f} tok_s_med={BT / (med / 1e3):.1f} "
          f"tok_s_best={BT / (best / 1e3):.1f}")
    if cs:
        cm = statistics.median(cs)
        print(f"CLEAN n={len(cs)} min_ms={min(cs):.1f} med_ms={cm:.1f} tok_s_med={BT / (cm / 1e3):.1f}")
    else:
        print("CLEAN n=0")
    state = nparams * 4 * 4  # param + grad + exp_avg + exp_avg_sq (fp32)
    print(f"STATE param_state_MiB={state / 1048576:.1f}")
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB
    print("JSON " + json.dumps({
        "tokens_per_s": round(BT / (med / 1e3), 3),
        "median_ms": round(med, 3),
        "best_ms": round(best, 3),
        "params": nparams,
        "peak_rss_bytes": peak_rss,
        "threads": threads,
        "B": a.B,
        "T": a.T,
    }), flush=True)


if __name__ == "__main__":
    main()
