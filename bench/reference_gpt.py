"""PyTorch reference for bench/train-throughput.ts: the same GPT-2 (pre-LN, tanh GELU, tied LM head,
no dropout) in plain PyTorch on CPU threads, timed the same way.

    python3 bench/reference_gpt.py --threads 2 --batch 16 --context 128 --vocab 512 \
        --embd 128 --layers 4 --heads 4 --steps 5 --gen-prompt 8 --gen-new 128

Prints plain lines "<metric> <value>" (tokens per second), read by the TypeScript bench.

With --gpt2-phase, the phases of bench/gpt2-small.ts on the checkpoint it wrote (--checkpoint <dir>: its
config.json and model.safetensors, read here without the safetensors package), one phase per process so
that ru_maxrss is that phase's peak:

    /usr/bin/python3 bench/reference_gpt.py --gpt2-phase sft-lora --checkpoint <dir> --threads 2 --steps 3
"""

import argparse
import json
import math
import resource
import struct
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class CausalSelfAttention(nn.Module):
    def __init__(self, d, n_head):
        super().__init__()
        self.n_head = n_head
        self.c_attn = nn.Linear(d, 3 * d)
        self.c_proj = nn.Linear(d, d)

    def forward(self, x, cache=None):
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)
        q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)  # [B, nh, T, hs]
        k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        if cache is not None:
            if cache.get("k") is not None:
                k = torch.cat([cache["k"], k], dim=2)
                v = torch.cat([cache["v"], v], dim=2)
            cache["k"], cache["v"] = k, v
        Tk = k.shape[2]
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.shape[-1]))  # [B, nh, T, Tk]
        mask = torch.ones(T, Tk, dtype=torch.bool).tril(diagonal=Tk - T)
        att = att.masked_fill(~mask, float("-inf")).softmax(dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)  # [B, T, C]
        return self.c_proj(y)


class Block(nn.Module):
    def __init__(self, d, n_head):
        super().__init__()
        self.ln_1 = nn.LayerNorm(d)
        self.attn = CausalSelfAttention(d, n_head)
        self.ln_2 = nn.LayerNorm(d)
        self.c_fc = nn.Linear(d, 4 * d)
        self.c_proj = nn.Linear(4 * d, d)

    def forward(self, x, cache=None):
        x = x + self.attn(self.ln_1(x), cache)
        x = x + self.c_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))
        return x


class GPT(nn.Module):
    def __init__(self, vocab, context, d, layers, n_head):
        super().__init__()
        self.wte = nn.Embedding(vocab, d)
        self.wpe = nn.Embedding(context, d)
        self.h = nn.ModuleList([Block(d, n_head) for _ in range(layers)])
        self.ln_f = nn.LayerNorm(d)

    def forward(self, idx, past=0, caches=None):
        T = idx.shape[1]
        pos = torch.arange(past, past + T)
        x = self.wte(idx) + self.wpe(pos)
        for i, block in enumerate(self.h):
            x = block(x, None if caches is None else caches[i])
        return self.ln_f(x) @ self.wte.weight.t()  # tied LM head


def read_safetensors(path):
    """{name: float32 tensor} of a safetensors file (F32 only, as the workbench writes them)."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = bytearray(f.read())  # one buffer; the tensors below are views of it
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        assert info["dtype"] == "F32", name
        start, end = info["data_offsets"]
        count = (end - start) // 4
        out[name] = torch.frombuffer(data, dtype=torch.float32, count=count, offset=start).view(info["shape"])
    return out


def load_gpt2(checkpoint, reward_head=False):
    """GPT-2 from a workbench checkpoint: Conv1D weights [in, out] become nn.Linear's [out, in]."""
    cfg = json.load(open(f"{checkpoint}/config.json"))
    model = GPT(cfg["vocab_size"], cfg["n_positions"], cfg["n_embd"], cfg["n_layer"], cfg["n_head"])
    weights = read_safetensors(f"{checkpoint}/model.safetensors")
    state = {}
    for name, t in weights.items():
        key = name.removeprefix("transformer.").replace(".mlp.", ".")
        if key.endswith(".weight") and any(m in key for m in ("c_attn", "c_proj", "c_fc")):
            t = t.t().contiguous()
        state[key] = t
    model.load_state_dict(state)
    if reward_head:
        model.score = nn.Linear(cfg["n_embd"], 1, bias=False)
    return model, cfg


class LoRALinear(nn.Module):
    """PEFT's LoRA on an nn.Linear: base frozen, y = base(x) + (alpha / r) * B(A(dropout(x)))."""

    def __init__(self, base, r=8, alpha=16):
        super().__init__()
        self.base = base
        base.weight.requires_grad_(False)
        base.bias.requires_grad_(False)
        self.A = nn.Linear(base.in_features, r, bias=False)
        self.B = nn.Linear(r, base.out_features, bias=False)
        nn.init.kaiming_uniform_(self.A.weight, a=math.sqrt(5))
        nn.init.zeros_(self.B.weight)
        self.scaling = alpha / r

    def forward(self, x):
        return self.base(x) + self.B(self.A(x)) * self.scaling


def add_lora(model):
    for p in model.parameters():
        p.requires_grad_(False)
    for block in model.h:
        block.attn.c_attn = LoRALinear(block.attn.c_attn)
        block.attn.c_proj = LoRALinear(block.attn.c_proj)
        block.c_fc = LoRALinear(block.c_fc)
        block.c_proj = LoRALinear(block.c_proj)
    if hasattr(model, "score"):
        model.score.weight.requires_grad_(True)


def hidden_states(model, idx):
    T = idx.shape[1]
    x = model.wte(idx) + model.wpe(torch.arange(T))
    for block in model.h:
        x = block(x)
    return model.ln_f(x)


def timed_steps(step, steps):
    """(first step's seconds, median of the next `steps`)."""
    t0 = time.perf_counter()
    step()
    first = time.perf_counter() - t0
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    times.sort()
    return first, times[len(times) // 2]


def adamw(model, lr):
    """The trainable parameters (all, or the adapters after add_lora) and the workbench's AdamW over them."""
    params = [p for p in model.parameters() if p.requires_grad]
    return params, torch.optim.AdamW(params, lr=lr, betas=(0.9, 0.95), weight_decay=0.1)


def update(opt, params, loss):
    """One optimiser step as the workbench takes it: gradients, clipped to norm 1, then AdamW."""
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, 1.0)
    opt.step()


def print_step_times(step, steps, tokens):
    """The first step's seconds, the median step's, and `tokens` a step over the median step."""
    first, later = timed_steps(step, steps)
    print(f"first_step_seconds {first:.2f}")
    print(f"step_seconds {later:.2f}")
    print(f"tokens_per_s {tokens / later:.1f}")


@torch.no_grad()
def decode(model, prompt, new, pick):
    """`new` tokens after `prompt` with the KV cache, each chosen by `pick(logits)` ([rows, 1] ids)."""
    caches = [dict() for _ in model.h]
    idx = prompt
    logits = model(idx, 0, caches)[:, -1, :]
    for t in range(new):
        nxt = pick(logits)
        idx = torch.cat([idx, nxt], dim=1)
        if t == new - 1:
            break
        logits = model(nxt, idx.shape[1] - 1, caches)[:, -1, :]
    return idx


def greedy(model, prompt, new):
    return decode(model, prompt, new, lambda logits: logits.argmax(-1, keepdim=True))


def gpt2_phase(args):
    """The phases of bench/gpt2-small.ts (same shapes, same data recipe, same step)."""
    phase = args.gpt2_phase
    g = torch.Generator().manual_seed(0)
    t0 = time.perf_counter()
    model, cfg = load_gpt2(args.checkpoint, reward_head=phase == "reward-lora")
    print(f"load_seconds {time.perf_counter() - t0:.2f}")
    V = cfg["vocab_size"]
    B, T = 8, 128
    if phase == "generate":
        model.eval()
        prompt = torch.tensor([[(i * 31 + 7) % V for i in range(16)]])
        ids = greedy(model, prompt, 32)
        print(f"greedy_ids_sum {int(ids[0, 16:].sum())}")
        for batch in (1, 8):
            prompts = prompt.repeat(batch, 1)
            greedy(model, prompts, 4)
            t0 = time.perf_counter()
            greedy(model, prompts, 32)
            print(f"gen_b{batch}_tokens_per_s {batch * 32 / (time.perf_counter() - t0):.1f}")
    elif phase in ("sft-full", "sft-lora"):
        if phase == "sft-lora":
            add_lora(model)
        params, opt = adamw(model, lr=1e-4)
        x = torch.randint(0, V, (B, T), generator=g)
        y = torch.randint(0, V, (B, T), generator=g)

        def step():
            loss = F.cross_entropy(model(x).view(-1, V), y.view(-1))
            update(opt, params, loss)

        print_step_times(step, args.steps, tokens=B * T)
    elif phase == "reward-lora":
        add_lora(model)
        params, opt = adamw(model, lr=1e-4)
        chosen = torch.randint(0, V, (B, T), generator=g)
        rejected = torch.randint(0, V, (B, T), generator=g)

        def step():
            scores = model.score(hidden_states(model, torch.cat([chosen, rejected])))[:, -1, 0]
            loss = -F.logsigmoid(scores[:B] - scores[B:]).mean()
            update(opt, params, loss)

        print_step_times(step, args.steps, tokens=2 * B * T)
    elif phase == "peft-check":
        # The adapter as PEFT reads it: its keys and nn.Linear layouts, lora_A [r, in], lora_B [out, r].
        model.eval()
        idx = torch.tensor([[(i * 31 + 7) % V for i in range(16)]])
        with torch.no_grad():
            base = model(idx)[0, -1]
        add_lora(model)
        adapter = read_safetensors(f"{args.adapter}/adapter_model.safetensors")
        cfg_a = json.load(open(f"{args.adapter}/adapter_config.json"))
        prefix = "base_model.model.transformer."
        for key, t in adapter.items():
            assert key.startswith(prefix), key
            module, kind = key[len(prefix) :].rsplit(".", 2)[0], key.rsplit(".", 2)[1]
            layer = model.get_submodule(module.replace(".mlp.", "."))
            target = layer.A if kind == "lora_A" else layer.B
            assert target.weight.shape == t.shape, (key, target.weight.shape, t.shape)
            target.weight.data.copy_(t)
            layer.scaling = cfg_a["lora_alpha"] / cfg_a["r"]
        with torch.no_grad():
            adapted = model(idx)[0, -1]
        print(f"adapter_tensors {len(adapter)}")
        print(f"adapter_logit_shift {float((adapted - base).norm()):.6f}")
        print(f"adapted_logits_head {' '.join(f'{v:.4f}' for v in adapted[:3].tolist()).replace(' ', ',')}")
    elif phase == "grpo-lora":
        add_lora(model)
        params, opt = adamw(model, lr=1e-5)
        G, P, N = 4, 2, 32
        prompts = torch.randint(0, V, (P, 16), generator=g).repeat_interleave(G, 0)

        def set_lora(on):
            for block in model.h:
                for m in (block.attn.c_attn, block.attn.c_proj, block.c_fc, block.c_proj):
                    m.scaling = 2.0 if on else 0.0

        def step():
            idx = decode(model, prompts, N, lambda logits: torch.multinomial(logits.softmax(-1), 1, generator=g))
            completions = idx[:, 16:]
            rewards = (completions % 2 == 0).float().mean(1)  # a stand-in reward: share of even ids
            grouped = rewards.view(P, G)
            adv = ((grouped - grouped.mean(1, keepdim=True)) / (grouped.std(1, keepdim=True) + 1e-4)).view(-1)
            x, y = idx[:, :-1], idx[:, 1:]
            with torch.no_grad():
                set_lora(False)
                ref = -F.cross_entropy(model(x).transpose(1, 2), y, reduction="none")[:, 15:]
                set_lora(True)
            logp = -F.cross_entropy(model(x).transpose(1, 2), y, reduction="none")[:, 15:]
            kl = torch.exp(ref - logp) - (ref - logp) - 1
            loss = (-(torch.exp(logp - logp.detach()) * adv[:, None]) + 0.04 * kl).mean()
            update(opt, params, loss)

        print_step_times(step, args.steps, tokens=P * G * N)
    print(f"peak_rss_mb {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--context", type=int, default=128)
    p.add_argument("--vocab", type=int, default=512)
    p.add_argument("--embd", type=int, default=128)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--gen-prompt", type=int, default=8)
    p.add_argument("--gen-new", type=int, default=128)
    p.add_argument(
        "--gpt2-phase", choices=["load", "generate", "sft-full", "sft-lora", "reward-lora", "grpo-lora", "peft-check"]
    )
    p.add_argument("--adapter", help="with --gpt2-phase peft-check: an adapter directory the workbench saved")
    p.add_argument("--checkpoint")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    if args.gpt2_phase:
        gpt2_phase(args)
        return

    model = GPT(args.vocab, args.context, args.embd, args.layers, args.heads)
    opt = torch.optim.Adam(model.parameters(), lr=3e-4)
    x = torch.randint(0, args.vocab, (args.batch, args.context))
    y = torch.randint(0, args.vocab, (args.batch, args.context))

    def step():
        logits = model(x)
        loss = F.cross_entropy(logits.view(-1, args.vocab), y.view(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.item()

    for _ in range(2):
        step()
    times = []
    cpu0 = time.process_time()
    for _ in range(args.steps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    cpu_ms = (time.process_time() - cpu0) * 1000 / args.steps  # all threads
    times.sort()
    print(f"train_tokens_per_s {args.batch * args.context / times[len(times) // 2]:.0f}")
    print(f"train_step_cpu_ms {cpu_ms:.0f}")

    gen_model = GPT(args.vocab, args.gen_prompt + args.gen_new, args.embd, args.layers, args.heads).eval()
    prompt = torch.randint(0, args.vocab, (args.batch, args.gen_prompt))

    @torch.no_grad()
    def generate(use_cache):
        g = torch.Generator().manual_seed(0)
        idx = prompt
        caches = [dict() for _ in gen_model.h] if use_cache else None
        logits = gen_model(idx, 0, caches)[:, -1, :]
        for t in range(args.gen_new):
            nxt = torch.multinomial(logits.softmax(-1), 1, generator=g)
            idx = torch.cat([idx, nxt], dim=1)
            if t == args.gen_new - 1:
                break
            if use_cache:
                logits = gen_model(nxt, idx.shape[1] - 1, caches)[:, -1, :]
            else:
                logits = gen_model(idx)[:, -1, :]
        return idx

    for use_cache, name in ((True, "gen_cache_tokens_per_s"), (False, "gen_nocache_tokens_per_s")):
        generate(use_cache)  # warm-up
        t0 = time.perf_counter()
        generate(use_cache)
        print(f"{name} {args.batch * args.gen_new / (time.perf_counter() - t0):.0f}")


if __name__ == "__main__":
    main()
