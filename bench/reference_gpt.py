"""PyTorch reference for bench/train-throughput.ts: the same GPT-2 (pre-LN, tanh GELU, tied LM head,
no dropout) in plain PyTorch on CPU threads, timed the same way.

    python3 bench/reference_gpt.py --threads 2 --batch 16 --context 128 --vocab 512 \
        --embd 128 --layers 4 --heads 4 --steps 5 --gen-prompt 8 --gen-new 128

Prints plain lines "<metric> <value>" (tokens per second), read by the TypeScript bench.
"""

import argparse
import math
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
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

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
