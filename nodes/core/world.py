"""A seeded synthetic video world with ground truth, and metrics measured from pixels against it.

Clips: one coloured shape (circle or square) on a static textured grey background, moving at constant
speed in the prompted direction and bouncing off the frame's edges. Prompts: "<colour> <shape> moving
<direction>", e.g. "red circle moving left". Videos are [T, 3, H, W] in [0, 1].

Latents: a fixed linear code of 2x2 pixel blocks (pixel_unshuffle -> 12 values per latent pixel) onto
4 or 16 channels with orthonormal rows/columns; `decode` is its least-squares inverse.

Metrics (per video, from pixels; the object is found by its distance to the prompted colour):
  fidelity     mean over frames of the IoU of the object mask with the ideal prompted shape of the same
               area at the same centre (0: no object of the prompted colour; 1: a clean prompted shape);
  consistency  mean IoU of each frame's mask with the next one after aligning their centres (identity);
  size_cv      std / mean of the object's area over frames (0: constant size);
  colour_drift mean frame-to-frame change of the object's mean colour (RGB distance);
  jerk         mean |c[t+1] - 2 c[t] + c[t-1]| of the centre trajectory, pixels (motion smoothness);
  speed        mean |c[t+1] - c[t]|, pixels per frame (dynamic degree);
  flicker      mean |frame[t+1] - frame[t]| over background pixels (away from the object).
"""
import torch
import torch.nn.functional as F

COLOURS = {"red": (0.9, 0.15, 0.12), "green": (0.15, 0.75, 0.2), "blue": (0.15, 0.3, 0.95),
           "yellow": (0.95, 0.85, 0.1)}
SHAPES = ("circle", "square")
DIRECTIONS = {"left": (-1.0, 0.0), "right": (1.0, 0.0), "up": (0.0, -1.0), "down": (0.0, 1.0)}
SIZE, FRAMES = 16, 8
COLOUR_TAU = 0.15  # RGB distance at which a pixel counts half as the object


def prompts() -> list[str]:
    """The vocabulary's 32 prompts, in a fixed order."""
    return [f"{c} {s} moving {d}" for c in COLOURS for s in SHAPES for d in DIRECTIONS]


def parse(prompt: str) -> dict:
    """{"colour", "shape", "direction"} of a prompt; words outside the vocabulary are ignored, missing ones None."""
    words = prompt.lower().replace(",", " ").split()
    pick = lambda vocab: next((w for w in words if w in vocab), None)
    return {"colour": pick(COLOURS), "shape": pick(SHAPES), "direction": pick(DIRECTIONS)}


def shape_mask(shape: str, centres: torch.Tensor, radius, size: int = SIZE, soft: float = 0.5) -> torch.Tensor:
    """Soft masks [N, size, size] of a circle (radius) or square (half side = radius) at centres [N, 2] (x, y)."""
    g = torch.arange(size, dtype=torch.float32) + 0.5
    dx = g[None, None, :] - centres[:, 0, None, None]
    dy = g[None, :, None] - centres[:, 1, None, None]
    r = torch.as_tensor(radius, dtype=torch.float32).reshape(-1, 1, 1)
    dist = (dx ** 2 + dy ** 2).sqrt() if shape == "circle" else torch.maximum(dx.abs(), dy.abs())
    return torch.sigmoid((r - dist) / soft)


def trajectory(start: torch.Tensor, velocity: torch.Tensor, radius: float, frames: int = FRAMES,
               size: int = SIZE) -> torch.Tensor:
    """Centres [frames, 2] moving at `velocity` px/frame from `start`, reflected at the edges (bouncing)."""
    lo, hi = radius, size - radius
    span = hi - lo
    raw = start[None] + torch.arange(frames, dtype=torch.float32)[:, None] * velocity[None] - lo
    folded = torch.remainder(raw, 2 * span)
    return lo + torch.where(folded > span, 2 * span - folded, folded)


def background(g: torch.Generator, size: int = SIZE) -> torch.Tensor:
    """A static low-contrast grey texture [3, size, size]: oriented stripes plus fine noise."""
    level = 0.4 + 0.15 * torch.rand(1, generator=g)
    angle = torch.rand(1, generator=g) * torch.pi
    freq = 0.5 + torch.rand(1, generator=g)
    x = torch.arange(size, dtype=torch.float32)
    proj = x[None, :] * torch.cos(angle) + x[:, None] * torch.sin(angle)
    tex = level + 0.06 * torch.sin(freq * proj) + 0.03 * torch.randn(size, size, generator=g)
    return tex.expand(3, size, size).clone()


def clip(prompt: str, seed: int, frames: int = FRAMES, size: int = SIZE) -> dict:
    """One clip of `prompt` with its ground truth: video [T, 3, H, W], centres [T, 2], radius, colour, shape."""
    p = parse(prompt)
    if None in p.values():
        raise ValueError(f"prompt {prompt!r} needs a colour {list(COLOURS)}, a shape {list(SHAPES)} and a "
                         f"direction {list(DIRECTIONS)}")
    g = torch.Generator().manual_seed(seed)
    radius = float(2.5 + torch.rand(1, generator=g))
    speed = float(0.8 + 0.8 * torch.rand(1, generator=g))
    d = torch.tensor(DIRECTIONS[p["direction"]])
    start = radius + torch.rand(2, generator=g) * (size - 2 * radius)
    centres = trajectory(start, d * speed, radius, frames, size)
    m = shape_mask(p["shape"], centres, radius, size)[:, None]                      # [T, 1, H, W]
    rgb = torch.tensor(COLOURS[p["colour"]])[None, :, None, None]
    video = background(g, size)[None] * (1 - m) + rgb * m
    return {"video": video.clamp(0, 1), "centres": centres, "radius": radius, "speed": speed, **p}


def batch(prompt_list: list[str], seed: int, frames: int = FRAMES, size: int = SIZE) -> torch.Tensor:
    """Videos [N, T, 3, H, W] for the prompts, clip i seeded with seed + i."""
    return torch.stack([clip(p, seed + i, frames, size)["video"] for i, p in enumerate(prompt_list)])


# ---- latents -----------------------------------------------------------------------------------------------

def code(channels: int) -> torch.Tensor:
    """The fixed [channels, 12] code of a 2x2 RGB block: 4 channels keep the block means of R, G, B and the
    luminance's diagonal detail; 16 channels are a seeded orthonormal embedding of all 12 values."""
    if channels == 4:
        mean = torch.zeros(3, 12)
        for c in range(3):
            mean[c, c * 4:(c + 1) * 4] = 0.5
        detail = torch.tensor([1.0, -1.0, -1.0, 1.0]).repeat(3) / 12 ** 0.5
        return torch.cat([mean, detail[None]])
    if channels == 16:
        q = torch.linalg.qr(torch.randn(16, 16, generator=torch.Generator().manual_seed(16)))[0]
        return q[:, :12].contiguous()
    raise ValueError(f"latent channels must be 4 or 16, got {channels}")


def encode(video: torch.Tensor, channels: int) -> torch.Tensor:
    """[..., 3, H, W] in [0, 1] -> latents [..., channels, H/2, W/2]."""
    lead = video.shape[:-3]
    blocks = F.pixel_unshuffle(video.reshape(-1, *video.shape[-3:]) * 2 - 1, 2)  # [N, 12, h, w]
    z = torch.einsum("kc,nchw->nkhw", code(channels).to(video), blocks)
    return z.reshape(*lead, *z.shape[1:])


def decode(latent: torch.Tensor) -> torch.Tensor:
    """Latents [..., 4 or 16, h, w] -> RGB [..., 3, 2h, 2w] in [0, 1] (least squares)."""
    lead = latent.shape[:-3]
    z = latent.reshape(-1, *latent.shape[-3:]).float()
    c = code(z.shape[1]).to(z)
    blocks = torch.einsum("kc,nkhw->nchw", torch.linalg.pinv(c).T, z)
    rgb = (F.pixel_shuffle(blocks, 2) + 1) / 2
    return rgb.clamp(0, 1).reshape(*lead, *rgb.shape[1:])


# ---- metrics -----------------------------------------------------------------------------------------------

def object_mask(video: torch.Tensor, colour: str) -> torch.Tensor:
    """[T, H, W] in [0, 1]: how close each pixel is to the prompted colour."""
    rgb = torch.tensor(COLOURS[colour], dtype=video.dtype)[None, :, None, None]
    d2 = ((video - rgb) ** 2).sum(1)
    return torch.exp(-d2 / (2 * COLOUR_TAU ** 2))


def _iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.minimum(a, b).sum((-1, -2)) / torch.maximum(a, b).sum((-1, -2)).clamp_min(1e-6)


def _shift(mask: torch.Tensor, by: torch.Tensor) -> torch.Tensor:
    """Masks [N, H, W] translated by `by` [N, 2] pixels (bilinear, zeros outside)."""
    n, h, w = mask.shape
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = theta[:, 1, 1] = 1
    theta[:, 0, 2] = -by[:, 0] * 2 / w
    theta[:, 1, 2] = -by[:, 1] * 2 / h
    grid = F.affine_grid(theta, (n, 1, h, w), align_corners=False)
    return F.grid_sample(mask[:, None], grid, align_corners=False)[:, 0]


def metrics(video: torch.Tensor, prompt: str) -> dict[str, float]:
    """The world's metrics of one video [T, 3, H, W] in [0, 1] against `prompt` (see the module docstring)."""
    p = parse(prompt)
    video = video.float().clamp(0, 1)
    t, _, h, w = video.shape
    m = object_mask(video, p["colour"])
    area = m.sum((-1, -2))                                                           # [T]
    g = torch.arange(h, dtype=torch.float32) + 0.5
    cx = (m * g[None, None, :]).sum((-1, -2)) / area.clamp_min(1e-6)
    cy = (m * g[None, :, None]).sum((-1, -2)) / area.clamp_min(1e-6)
    centres = torch.stack([cx, cy], -1)                                              # [T, 2]
    radius = (area / torch.pi).sqrt() if p["shape"] == "circle" else area.sqrt() / 2
    ideal = shape_mask(p["shape"], centres, radius, h)
    fidelity = torch.where(area > 1.0, _iou(m, ideal), torch.zeros_like(area))
    out = {"fidelity": fidelity.mean().item()}
    colour = (video * m[:, None]).sum((-1, -2)) / area[:, None].clamp_min(1e-6)      # [T, 3]
    if t > 1:
        out["size_cv"] = (area.std() / area.mean().clamp_min(1e-6)).item()
        aligned = _shift(m[:-1], centres[1:] - centres[:-1])
        out["consistency"] = _iou(aligned, m[1:]).mean().item()
        out["colour_drift"] = (colour[1:] - colour[:-1]).norm(dim=-1).mean().item()
        out["speed"] = (centres[1:] - centres[:-1]).norm(dim=-1).mean().item()
        far = 1 - torch.maximum(m[1:], m[:-1])
        diff = (video[1:] - video[:-1]).abs().mean(1)
        out["flicker"] = ((diff * far).sum() / far.sum().clamp_min(1e-6)).item()
    if t > 2:
        out["jerk"] = (centres[2:] - 2 * centres[1:-1] + centres[:-2]).norm(dim=-1).mean().item()
    return out


def mean_metrics(videos: torch.Tensor, prompt_list: list[str]) -> dict[str, float]:
    """Metrics averaged over videos [N, T, 3, H, W]."""
    rows = [metrics(v, p) for v, p in zip(videos, prompt_list)]
    return {k: sum(r[k] for r in rows) / len(rows) for k in rows[0]}
