#!/usr/bin/python3
"""PyTorch eager reference timing for the same tiny LLaVA (CLIP + projector + LLaMA with KV cache).

Written for the benchmark only (Debian's python3-torch; transformers is not available here): a plain
eager implementation of the same architecture reading the same safetensors file. It checks itself
against the fixture goldens before timing, so the comparison is between two correct implementations.
Run: /usr/bin/python3 benchmarks/torch_reference.py FIXTURES/llava-tiny [threads]
"""
import json, math, statistics, struct, sys, time
import numpy as np
import torch
import torch.nn.functional as F
from torch_ops import rms, rope


def load(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        base = 8 + n
        out = {}
        for name, e in header.items():
            if name == "__metadata__":
                continue
            s, t = e["data_offsets"]
            f.seek(base + s)
            out[name] = torch.from_numpy(np.frombuffer(f.read(t - s), dtype=np.float32).reshape(e["shape"]).copy())
        return out


class Tiny:
    def __init__(self, d, cfg):
        self.w, self.c = d, cfg
        v, t = cfg["vision_config"], cfg["text_config"]
        self.vh, self.vl, self.p = v["num_attention_heads"], v["num_hidden_layers"], v["patch_size"]
        self.th, self.tl = t["num_attention_heads"], t["num_hidden_layers"]
        self.kvh = t.get("num_key_value_heads", self.th)
        self.hd = t["hidden_size"] // self.th
        self.sel = self.vl + 1 + cfg.get("vision_feature_layer", -2)
        inv = 1.0 / (10000.0 ** (torch.arange(0, self.hd, 2).float() / self.hd))
        self.inv = inv

    def lin(self, x, name, bias=True):
        return F.linear(x, self.w[name + ".weight"], self.w.get(name + ".bias") if bias else None)

    def clip(self, px):
        W, pre = self.w, "vision_tower.vision_model."
        x = F.conv2d(px, W[pre + "embeddings.patch_embedding.weight"], stride=self.p).flatten(2).transpose(1, 2)
        cls = W[pre + "embeddings.class_embedding"].expand(x.shape[0], 1, -1)
        x = torch.cat([cls, x], 1) + W[pre + "embeddings.position_embedding.weight"]
        x = F.layer_norm(x, x.shape[-1:], W[pre + "pre_layrnorm.weight"], W[pre + "pre_layrnorm.bias"], 1e-5)
        B, T, D = x.shape
        hd = D // self.vh
        for i in range(self.sel):
            l = pre + f"encoder.layers.{i}."
            h = F.layer_norm(x, (D,), W[l + "layer_norm1.weight"], W[l + "layer_norm1.bias"], 1e-5)
            q, k, v = [self.lin(h, l + f"self_attn.{n}_proj").view(B, T, self.vh, hd).transpose(1, 2) for n in "qkv"]
            p = torch.softmax((q * hd ** -0.5) @ k.transpose(-1, -2), -1)
            x = x + self.lin((p @ v).transpose(1, 2).reshape(B, T, D), l + "self_attn.out_proj")
            h = F.layer_norm(x, (D,), W[l + "layer_norm2.weight"], W[l + "layer_norm2.bias"], 1e-5)
            h = self.lin(h, l + "mlp.fc1")
            x = x + self.lin(h * torch.sigmoid(1.702 * h), l + "mlp.fc2")
        f = x[:, 1:]
        return self.lin(F.gelu(self.lin(f, "multi_modal_projector.linear_1")), "multi_modal_projector.linear_2")

    def llm(self, x, cache, last_only=True):
        W, pre = self.w, "language_model.model."
        B, T, D = x.shape
        start = cache[0][0].shape[2] if cache[0] else 0
        pos = torch.arange(start, start + T)
        mask = torch.full((T, start + T), float("-inf")).triu(start + 1)
        for i in range(self.tl):
            l = pre + f"layers.{i}."
            h = rms(x, W[l + "input_layernorm.weight"])
            q = rope(self.lin(h, l + "self_attn.q_proj", False).view(B, T, self.th, self.hd).transpose(1, 2), pos, self.inv)
            k = rope(self.lin(h, l + "self_attn.k_proj", False).view(B, T, self.kvh, self.hd).transpose(1, 2), pos, self.inv)
            v = self.lin(h, l + "self_attn.v_proj", False).view(B, T, self.kvh, self.hd).transpose(1, 2)
            if cache[i]:
                k, v = torch.cat([cache[i][0], k], 2), torch.cat([cache[i][1], v], 2)
            cache[i] = (k, v)
            rep = self.th // self.kvh
            kk, vv = k.repeat_interleave(rep, 1), v.repeat_interleave(rep, 1)
            p = torch.softmax(q @ kk.transpose(-1, -2) / math.sqrt(self.hd) + mask, -1)
            x = x + self.lin((p @ vv).transpose(1, 2).reshape(B, T, -1), l + "self_attn.o_proj", False)
            h = rms(x, W[l + "post_attention_layernorm.weight"])
            x = x + self.lin(F.silu(self.lin(h, l + "mlp.gate_proj", False)) * self.lin(h, l + "mlp.up_proj", False), l + "mlp.down_proj", False)
        x = rms(x[:, -1:] if last_only else x, W[pre + "norm.weight"])
        return F.linear(x, W["language_model.lm_head.weight"])


def median_ms(fn, runs):
    fn()
    ts = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t) * 1000)
    return statistics.median(ts)


def main():
    root = sys.argv[1]
    torch.set_num_threads(int(sys.argv[2]) if len(sys.argv) > 2 else 1)
    cfg = json.load(open(f"{root}/model-f32/config.json"))
    m = Tiny(load(f"{root}/model-f32/model.safetensors"), cfg)
    ids = torch.from_numpy(np.load(f"{root}/golden/input_ids.npy"))
    px = torch.from_numpy(np.load(f"{root}/golden/pixel_values.npy"))
    emb = m.w["language_model.model.embed_tokens.weight"]
    img = cfg["image_token_index"]

    def merged():
        f = m.clip(px)
        i = int((ids[0] == img).nonzero()[0])
        return torch.cat([emb[ids[0, :i]][None], f, emb[ids[0, i + 1:]][None]], 1)

    with torch.no_grad():
        gen = np.load(f"{root}/golden/generated_ids.npy")[0, ids.shape[1]:]
        cache = [None] * m.tl
        tok = [int(m.llm(merged(), cache).argmax())]
        for _ in range(len(gen) - 1):
            tok.append(int(m.llm(emb[torch.tensor([[tok[-1]]])], cache).argmax()))
        assert tok == list(gen), f"torch reference disagrees with the goldens: {tok} vs {list(gen)}"
        clip_ms = median_ms(lambda: m.clip(px), 5)
        x = merged()
        prefill_ms = median_ms(lambda: m.llm(x, [None] * m.tl), 5)
        cache = [None] * m.tl
        m.llm(x, cache)
        step = emb[torch.tensor([[5]])]
        decode_ms = median_ms(lambda: m.llm(step, cache), 30)
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), "clip_ms": clip_ms, "prefill_ms": prefill_ms, "prefill_tokens": x.shape[1], "decode_ms": decode_ms}))


main()
