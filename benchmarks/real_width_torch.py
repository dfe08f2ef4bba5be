#!/usr/bin/python3
"""PyTorch eager reference for benchmarks/real-width.ts: the same computations at real widths.

Plain torch modules written for the benchmark (Debian's python3-torch 1.13; no transformers), random
weights of the same shapes as the TypeScript side's (values differ; timing does not depend on them):
  clip    CLIP ViT-L/14-336 up to LLaVA's selected layer (23 of 24) + the 7B projector, one image
  prefill one Vicuna-7B decoder layer over 595 positions with a KV cache, final norm, last-row lm_head
  decode  one cached step of that layer after the 595-position prefill, with lm_head
  gemm    the big matMuls alone (gemm-MxKxN rows)
Serves timing requests so the caller can interleave it with its own runs: reads lines
"<row> <threads>" on stdin, runs the row once with torch.set_num_threads(threads), writes one JSON line
{"row", "threads", "ms"}; "quit" ends. Run: OPENBLAS_NUM_THREADS=1|2 /usr/bin/python3 real_width_torch.py clip|text|gemm
(OpenBLAS's own threads are fixed per process by that variable; torch's intra-op threads per call).
"""
import json, math, os, sys, time
import torch
import torch.nn.functional as F
from torch_ops import rms, rope


def lin_w(out_dim, in_dim):
    return (torch.rand(out_dim, in_dim) * 2 - 1) * math.sqrt(3 / in_dim)


class ClipL:
    def __init__(self, D=1024, I=4096, layers=24, heads=16, p=14, size=336, text=4096):
        self.D, self.H, self.p, self.n = D, heads, p, (size // p) ** 2
        self.run_layers = layers - 1  # vision_feature_layer -2: the last layer's output is never used
        self.patch = lin_w(D, 3 * p * p).view(D, 3, p, p)
        self.cls, self.pos = torch.randn(D) * 0.02, torch.randn(self.n + 1, D) * 0.02
        self.pre = (torch.ones(D), torch.zeros(D))
        self.layers = [
            dict(ln1=(torch.ones(D), torch.zeros(D)), q=(lin_w(D, D), torch.zeros(D)), k=(lin_w(D, D), torch.zeros(D)),
                 v=(lin_w(D, D), torch.zeros(D)), o=(lin_w(D, D), torch.zeros(D)), ln2=(torch.ones(D), torch.zeros(D)),
                 fc1=(lin_w(I, D), torch.zeros(I)), fc2=(lin_w(D, I), torch.zeros(D)))
            for _ in range(layers)
        ]
        self.proj = [(lin_w(text, D), torch.zeros(text)), (lin_w(text, text), torch.zeros(text))]
        self.pixels = torch.randn(1, 3, size, size)

    def forward(self):
        D, H = self.D, self.H
        x = F.conv2d(self.pixels, self.patch, stride=self.p).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls.expand(1, 1, -1), x], 1) + self.pos
        x = F.layer_norm(x, (D,), *self.pre, 1e-5)
        B, T, _ = x.shape
        hd = D // H
        for L in self.layers[: self.run_layers]:
            h = F.layer_norm(x, (D,), *L["ln1"], 1e-5)
            q, k, v = [F.linear(h, *L[n]).view(B, T, H, hd).transpose(1, 2) for n in "qkv"]
            a = torch.softmax((q * hd ** -0.5) @ k.transpose(-1, -2), -1) @ v
            x = x + F.linear(a.transpose(1, 2).reshape(B, T, D), *L["o"])
            h = F.linear(F.layer_norm(x, (D,), *L["ln2"], 1e-5), *L["fc1"])
            x = x + F.linear(h * torch.sigmoid(1.702 * h), *L["fc2"])
        f = x[:, 1:]
        return F.linear(F.gelu(F.linear(f, *self.proj[0])), *self.proj[1])


class Layer7B:
    def __init__(self, D=4096, I=11008, heads=32, vocab=32064):
        self.D, self.H, self.hd = D, heads, D // heads
        self.w = dict(q=lin_w(D, D), k=lin_w(D, D), v=lin_w(D, D), o=lin_w(D, D),
                      gate=lin_w(I, D), up=lin_w(I, D), down=lin_w(D, I))
        self.n1, self.n2, self.norm = torch.ones(D), torch.ones(D), torch.ones(D)
        self.head = lin_w(vocab, D)
        self.inv = 1.0 / (10000.0 ** (torch.arange(0, self.hd, 2).float() / self.hd))
        self.prompt = torch.randn(1, 595, D) * 0.02
        self.cache = None

    def forward(self, x, cache):
        """HF-style eager layer: the cache is (k, v) concatenated along positions each call."""
        W, B, T = self.w, x.shape[0], x.shape[1]
        start = cache[0].shape[2] if cache else 0
        pos = torch.arange(start, start + T)
        h = rms(x, self.n1)
        heads = lambda t: t.view(B, T, self.H, self.hd).transpose(1, 2)
        q, k, v = rope(heads(F.linear(h, W["q"])), pos, self.inv), rope(heads(F.linear(h, W["k"])), pos, self.inv), heads(F.linear(h, W["v"]))
        if cache:
            k, v = torch.cat([cache[0], k], 2), torch.cat([cache[1], v], 2)
        s = q @ k.transpose(-1, -2) / math.sqrt(self.hd)
        if T > 1:
            s = s + torch.full((T, start + T), float("-inf")).triu(start + 1)
        a = torch.softmax(s, -1) @ v
        x = x + F.linear(a.transpose(1, 2).reshape(B, T, -1), W["o"])
        h = rms(x, self.n2)
        x = x + F.linear(F.silu(F.linear(h, W["gate"])) * F.linear(h, W["up"]), W["down"])
        return F.linear(rms(x[:, -1:], self.norm), self.head), (k, v)

    def prefill(self):
        logits, self.cache = self.forward(self.prompt, None)
        return logits

    def decode(self):
        """One step after the 595-position prompt (always the same cache length: 596 positions)."""
        if self.cache is None:
            self.prefill()
        logits, _ = self.forward(torch.randn(1, 1, self.D) * 0.02, self.cache)
        return logits


def gemm_rows():
    """gemm-MxKxN: F.linear of an [M, K] input and an [N, K] weight, as the model's linears run."""
    rows = {}
    for M, K, N in [(577, 1024, 4096), (595, 4096, 11008), (1, 4096, 11008)]:
        a, w = torch.randn(M, K), lin_w(N, K)
        rows[f"gemm-{M}x{K}x{N}"] = lambda a=a, w=w: F.linear(a, w)
    return rows


def blas_libraries():
    """The BLAS/LAPACK libraries this process mapped: Debian picks one through update-alternatives, and
    its reference libblas3 is ~25x slower than OpenBLAS, which would make every ratio meaningless."""
    with open("/proc/self/maps") as maps:
        return sorted({os.path.realpath(l.split()[-1]) for l in maps if "blas" in l or "lapack" in l})


def main():
    part = sys.argv[1]
    if part == "gemm":
        rows = gemm_rows()
    else:
        model = ClipL() if part == "clip" else Layer7B()
        rows = {"clip": model.forward} if part == "clip" else {"prefill": model.prefill, "decode": model.decode}
    print(json.dumps({"ready": part, "torch": torch.__version__, "blas": blas_libraries()}), flush=True)
    with torch.no_grad():
        for line in sys.stdin:
            if line.strip() == "quit":
                break
            row, threads = line.split()
            torch.set_num_threads(int(threads))
            t = time.perf_counter()
            rows[row]().sum().item()
            print(json.dumps({"row": row, "threads": int(threads), "ms": (time.perf_counter() - t) * 1000}), flush=True)


if __name__ == "__main__":
    main()
