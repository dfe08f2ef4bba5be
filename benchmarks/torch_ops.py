"""LLaMA pieces shared by the PyTorch reference scripts (torch_reference.py, real_width_torch.py)."""
import torch


def rms(x, w, eps=1e-5):
    """LlamaRMSNorm: x / sqrt(mean(x²) + eps) · w."""
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rope(x, pos, inv):
    """Rotary embedding, HF's rotate_half layout: x·cos + rotate_half(x)·sin at positions pos."""
    f = pos[:, None].float() * inv[None]
    emb = torch.cat([f, f], -1)
    x1, x2 = x.chunk(2, -1)
    return x * emb.cos() + torch.cat([-x2, x1], -1) * emb.sin()
