"""Train the learned demo models (nodes/learned.py) on the synthetic world (nodes/core/world.py) and write
nodes/learned/<name>.safetensors (fp16). Seeded and single-threaded: the same machine gives the same weights.

Usage: .host/venv/bin/python tests/train_learned.py [video_unet] [image_unet] [wan21] [--from-phase K]
(default: all models, all phases; --from-phase K starts from the weights saved after phase K-1, which gives the
same result as a full run because every phase starts from fp16-rounded weights with its own seed.)
Objectives, as the real models were trained:
- video_unet / image_unet: EPS prediction on SD1.5's scaled-linear DDPM schedule, t uniform in 0..999
  (so, like AnimateDiff, the model learns that the last timestep still holds a little signal); phase 1 weights
  every t alike, phase 2 weights the eps error by clamp(sigma^2, 1, 100) (the error of the denoised estimate,
  capped), because a small net's eps error at high noise is multiplied by sigma in every sampler's first steps;
- wan21: rectified flow, x_t = (1 - s) x0 + s eps, velocity eps - x0, s half uniform, half shifted by 8.
Prompts are dropped to the empty prompt 10% of the time (classifier-free guidance).
Measured on the shared 2-core CPU (one thread, five sessions at once): video_unet 805.5 + 171.5 s, image_unet
308.4 + 224.9 s, wan21 223.8 s, 28.9 minutes in all; files 1.27, 0.75 and 1.18 MB (each file's metadata keeps
its phases' steps, seconds and final losses).
"""
import json
import math
import sys
import time
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

import testenv

testenv.load_host()
from tfv_core import world  # noqa: E402
from training_free_video.nodes import learned as L  # noqa: E402

CLIPS = 4096
PLAN = {  # name: phases of (steps, videos per step (image_unet: frames), learning rate, high-noise weighting)
    "video_unet": [(1400, 4, 1e-3, False), (500, 4, 5e-4, True)],
    "image_unet": [(1500, 16, 1e-3, False), (500, 16, 5e-4, True)],
    "wan21": [(2000, 4, 5e-4, False)],
}
DROP = 0.1
WAN_SHIFT = 8.0


def dataset(channels: int):
    """Latents [CLIPS, T, C, 8, 8] and prompt embeddings [CLIPS, 3, TEXT_DIM] (clip i has prompt i mod 32)."""
    ps = world.prompts()
    prompts = [ps[i % len(ps)] for i in range(CLIPS)]
    z = world.encode(world.batch(prompts, seed=1000), channels)
    text = L.TextTable()
    ctx = torch.cat([text.encode(p) for p in prompts])
    return z, ctx


def init_(net: torch.nn.Module, seed: int):
    torch.manual_seed(seed)
    with torch.no_grad():
        for name, p in net.named_parameters():
            if "norm" in name and name.endswith("weight"):
                p.fill_(1.0)
            elif name.endswith("bias") or "mix_factor" in name:
                p.zero_()
            else:
                torch.nn.init.normal_(p, std=0.5 / math.sqrt(max(1, p[0].numel())))


def lr_at(step: int, steps: int, lr: float) -> float:
    warm = 50
    return lr * min(1.0, (step + 1) / warm) * 0.5 * (1 + math.cos(math.pi * step / steps))


def drop(ctx: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    keep = (torch.rand(ctx.shape[0], generator=g) > DROP).float()[:, None, None]
    return ctx * keep


def train(name: str, from_phase: int = 1) -> dict:
    if name == "wan21":
        net = L.build_wan_net()
        z, ctx = dataset(16)
    else:
        model = L.build_unet(temporal=name == "video_unet")
        net = model.diffusion_model
        sigmas = model.model_sampling.sigmas.float()              # SD1.5's schedule, as ComfyUI builds it
        z, ctx = dataset(4)
    init_(net, 1)
    out_path = Path(L.WEIGHTS) / f"{name}.safetensors"
    meta = {}
    if from_phase > 1:
        net.load_state_dict({k: v.float() for k, v in load_file(str(out_path)).items()})
        with safe_open(str(out_path), "pt") as f:
            meta = {k: v for k, v in (f.metadata() or {}).items() if int(k.removeprefix("phase")) < from_phase}
    net.train()
    records = []
    for phase in range(from_phase, len(PLAN[name]) + 1):
        records.append(train_phase(name, net, phase, z, ctx, None if name == "wan21" else sigmas))
        sd = {k: v.detach().half().contiguous() for k, v in net.state_dict().items()}
        out_path.parent.mkdir(exist_ok=True)
        save_file(sd, str(out_path), metadata={**meta, **{f"phase{r['phase']}": json.dumps(r) for r in records}})
        net.load_state_dict({k: v.float() for k, v in sd.items()})   # the next phase starts from the file
    print(f"[train] {name} saved {out_path} ({out_path.stat().st_size} bytes, "
          f"{sum(v.numel() for v in sd.values())} parameters)", flush=True)
    return records


def train_phase(name, net, phase, z, ctx, sigmas) -> dict:
    steps, per_step, lr, high_noise = PLAN[name][phase - 1]
    g = torch.Generator().manual_seed({"video_unet": 1, "image_unet": 2, "wan21": 3}[name] + 100 * (phase - 1))
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=0.0)
    t0, ema = time.time(), None
    frames = z.shape[1]
    for step in range(steps):
        for group in opt.param_groups:
            group["lr"] = lr_at(step, steps, lr)
        if name == "image_unet":
            idx = torch.randint(0, z.shape[0], (per_step,), generator=g)
            fr = torch.randint(0, frames, (per_step,), generator=g)
            x0, c = z[idx, fr], drop(ctx[idx], g)
            t = torch.randint(0, 1000, (per_step,), generator=g)
            s = sigmas[t][:, None, None, None]
            eps = torch.randn(x0.shape, generator=g)
            out = net((x0 + s * eps) / (1 + s ** 2).sqrt(), t.float(), c)
            loss = weighted(out - eps, s, high_noise)
        elif name == "video_unet":
            idx = torch.randint(0, z.shape[0], (per_step,), generator=g)
            x0 = z[idx].flatten(0, 1)                                   # frames in the batch
            c = drop(ctx[idx], g).repeat_interleave(frames, 0)
            t = torch.randint(0, 1000, (per_step,), generator=g).repeat_interleave(frames)
            s = sigmas[t][:, None, None, None]
            eps = torch.randn(x0.shape, generator=g)
            out = net((x0 + s * eps) / (1 + s ** 2).sqrt(), t.float(), c,
                      transformer_options={"cond_or_uncond": [0] * per_step})
            loss = weighted(out - eps, s, high_noise)
        else:
            idx = torch.randint(0, z.shape[0], (per_step,), generator=g)
            x0 = z[idx].movedim(1, 2)                                   # [B, C, T, H, W]
            u = torch.rand(per_step, generator=g)
            shifted = WAN_SHIFT * u / (1 + (WAN_SHIFT - 1) * u)
            s = torch.where(torch.rand(per_step, generator=g) < 0.5, u, shifted).clamp(1e-3, 1.0)
            eps = torch.randn(x0.shape, generator=g)
            sv = s[:, None, None, None, None]
            out = net((1 - sv) * x0 + sv * eps, s * 1000, drop(ctx[idx], g))
            loss = (out - (eps - x0)).pow(2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        ema = loss.item() if ema is None else 0.98 * ema + 0.02 * loss.item()
        if step % 100 == 0 or step == steps - 1:
            print(f"[train] {name} phase {phase} step {step}/{steps} loss {ema:.4f} {time.time() - t0:.0f} s",
                  flush=True)
    record = {"phase": phase, "steps": steps, "per_step": per_step, "lr": lr, "high_noise": high_noise,
              "seconds": round(time.time() - t0, 1), "final_loss": round(ema, 4)}
    print(f"[train] {name} done: {json.dumps(record)}", flush=True)
    return record


def weighted(err: torch.Tensor, s: torch.Tensor, high_noise: bool) -> torch.Tensor:
    """Mean squared eps error; in high-noise phases weighted by clamp(sigma^2, 1, 100), normalised."""
    if not high_noise:
        return err.pow(2).mean()
    w = (s ** 2).clamp(1, 100).expand_as(err)
    return (w * err.pow(2)).sum() / w.sum()


def main(args: list[str]) -> int:
    torch.set_num_threads(1)
    from_phase = 1
    if "--from-phase" in args:
        i = args.index("--from-phase")
        from_phase = int(args[i + 1])
        args = args[:i] + args[i + 2:]
    for name in args or list(PLAN):
        train(name, from_phase)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
