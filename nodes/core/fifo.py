"""FIFO-Diffusion (Kim et al., NeurIPS 2024, arXiv:2405.11473): diagonal denoising with latent
partitioning and lookahead, in sigma space. Pure maths: the queue plan, the windows, the per-frame
step, frame-indexed noise, prompt-schedule lookup and the cost shown to the user.

Notation: f = window (the model's clip length), n = partitions, N = f*n noise levels = queue slots.
Queue slot j (0 = head) holds a frame at level lv[j] (ascending); every iteration steps each slot from
lv[j] to lvn[j] = lv[j-1] (lvn[0] = 0), dequeues the clean head and enqueues pure noise at the tail.
With lookahead, P = f//2 clean frames (the last ones dequeued) sit before the head as context.
Frames are numbered by their absolute index in the video ("stream index").
"""
import bisect
import math
from dataclasses import dataclass
from typing import NamedTuple

import torch

GENERATE = "generate"
CONTINUE = "continue"

# noise streams of the frame-indexed generator
ENTRY, STEP, BASE_ENTRY, BASE_STEP = 0, 1, 2, 3
_MASK = (1 << 64) - 1


class Window(NamedTuple):
    start: int   # first slot the model sees (extended queue: prefix slots first)
    stop: int    # one past the last slot
    update: int  # first slot this window writes; [update, stop) is its share of the queue


def num_steps(f: int, n: int) -> int:
    """Noise levels N = f*n: one queue slot per level (the paper's steps)."""
    return f * n


def prefix_length(f: int, lookahead: bool) -> int:
    """P: clean context slots before the head, f//2 with lookahead (the updated halves take ceil(f/2))."""
    return f // 2 if lookahead else 0


def windows(f: int, n: int, lookahead: bool) -> list[Window]:
    """The model inputs of one iteration, in extended-queue coordinates (slot e = P + queue slot j).

    Without lookahead: n partitions of f slots, each fully updated (latent partitioning).
    With lookahead: 2n windows of f slots; each updates only its last half, so every frame is denoised
    with the less noisy frames before it in view (odd f alternates ceil(f/2) and floor(f/2) halves).
    The updated ranges tile the queue exactly once."""
    if not lookahead:
        return [Window(k * f, (k + 1) * f, k * f) for k in range(n)]
    a, p = -(-f // 2), f // 2
    out = []
    for k in range(n):
        out.append(Window(p + k * f + a - f, p + k * f + a, p + k * f))
        out.append(Window(p + k * f, p + (k + 1) * f, p + k * f + a))
    return out


def levels(sigmas: torch.Tensor, f: int, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(lv, lvn): slot j's level and the level it steps to, from a descending schedule of N+1 sigmas
    that ends at 0 (lv ascending, lv[N-1] = sigmas[0]; lvn[0] = sigmas[N] = 0)."""
    big_n = num_steps(f, n)
    if sigmas.ndim != 1 or len(sigmas) != big_n + 1:
        raise ValueError(f"FIFO needs {big_n + 1} sigmas (f*n steps + the final 0), got {tuple(sigmas.shape)}")
    s = sigmas.flip(0)
    return s[1:].clone(), s[:-1].clone()


def slot_sigmas(lv: torch.Tensor, sigma_min: float, prefix: int) -> torch.Tensor:
    """Per extended slot, the sigma the model is told: the prefix holds clean frames labelled with the
    model's smallest level (the official code's t = 0), the queue its levels."""
    return torch.cat([lv.new_full((prefix,), float(sigma_min)), lv])


@dataclass(frozen=True)
class Plan:
    """Which frame sits where, when. Stream index s of extended slot e at iteration t is
    t + first + (e - prefix); the head (e = prefix) is dequeued at the end of iteration t."""
    f: int
    n: int
    lookahead: bool
    start: str          # GENERATE or CONTINUE
    num_frames: int     # length of the output latent
    given: int          # frames of the input video (continue), 0 for generate
    keep_given: bool

    @property
    def steps(self) -> int:
        return num_steps(self.f, self.n)

    @property
    def prefix(self) -> int:
        return prefix_length(self.f, self.lookahead)

    @property
    def first(self) -> int:
        """Stream index at the head before the first iteration: generate discards N - f warm-up frames
        (noised copies of the base clip's first frame), continue starts with the last N given frames."""
        return self.given - self.steps if self.start == CONTINUE else self.f - self.steps

    @property
    def out_start(self) -> int:
        """Stream index of the output's first frame."""
        return self.given if (self.start == CONTINUE and not self.keep_given) else 0

    @property
    def new_start(self) -> int:
        """First stream index the queue must produce (given frames are copied, not re-made)."""
        return max(self.out_start, self.given)

    @property
    def iterations(self) -> int:
        return self.out_start + self.num_frames - self.first

    def frame(self, t: int, e: int) -> int:
        return t + self.first + e - self.prefix


def cost(f: int, n: int, lookahead: bool = True, windows_per_call: int = 1, cfg: bool = True,
         start: str = GENERATE) -> dict:
    """What the node shows as its widgets change (cfg: True when CFG != 1, i.e. an uncond pass too).

    steps = f*n; windows per step W = 2n with lookahead, else n; model calls per output frame =
    ceil(W / min(windows_per_call, W)), each on min(windows_per_call, W)*f frames, doubled (cond + uncond) when
    cfg (ComfyUI batches the two when memory allows, else the calls double); frame evaluations per output
    frame = W*f*(2 if cfg). Fixed part: generate makes a base clip (f*n calls on f frames) and runs f*n - f
    warm-up iterations; continue runs f*n warm-up iterations; each iteration costs calls_per_frame.
    Memory: a queue of f*n + P frames, whatever the output length."""
    w = 2 * n if lookahead else n
    per_call = max(1, min(windows_per_call, w))
    mult = 2 if cfg else 1
    return {"steps": f * n, "windows_per_step": w, "calls_per_frame": -(-w // per_call),
            "frames_per_call": per_call * f * mult, "frame_evals_per_frame": w * f * mult,
            "warmup_iterations": f * n - (f if start == GENERATE else 0),
            "base_calls": f * n if start == GENERATE else 0,
            "queue_frames": f * n + prefix_length(f, lookahead)}


def memory(f: int, n: int, lookahead: bool, windows_per_call: int, num_frames: int, given: int, frame_bytes: int,
           out_frame_bytes: int, cfg: bool = True) -> dict:
    """Bytes of the latent buffers of one run (the network's own activations are not counted).
    output: num_frames frames, growing with the length. working: fixed, whatever the length: the queue and its
    snapshot (f*n + P frames each), the f-frame base clip, the given video (continue), and per model call the
    windows' input and its layout copy, the model's batch in and out (doubled with CFG), the denoised windows
    and their per-prompt merge. frame_bytes: one frame of every video in float32; out_frame_bytes: in the
    output's dtype."""
    per_call = max(1, min(windows_per_call, 2 * n if lookahead else n))
    mult = 2 if cfg else 1
    frames = 2 * (f * n + prefix_length(f, lookahead)) + f + given + per_call * f * (4 + 2 * mult)
    return {"output": num_frames * out_frame_bytes, "working": frames * frame_bytes}


def max_frames(available: int, working: int, out_frame_bytes: int) -> int:
    """The longest output that fits next to the working buffers in `available` bytes (0 if none does)."""
    return max(0, (available - working) // max(out_frame_bytes, 1))


def size_text(nbytes: float) -> str:
    """1536 -> '1.5 KB' (powers of 1024, as memory is counted)."""
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if nbytes < 1024 or unit == "TB":
            return f"{nbytes:.0f} bytes" if unit == "bytes" else f"{nbytes:.1f} {unit}"
        nbytes /= 1024


def ancestral_step(x, denoised, sigma, sigma_next, eta: float, noise=None, flow: bool = False):
    """The paper's DDIM(eta) step, per frame, in sigma space (eta = 0: Euler; eta = 1: the official
    setting): k-diffusion's Euler-ancestral step, or ComfyUI's rectified-flow variant for flow models.
    sigma, sigma_next broadcast against x (one level per frame); noise is needed when eta > 0."""
    if eta == 0:
        return x + (x - denoised) / sigma * (sigma_next - sigma)
    if flow:
        down = sigma_next * (1 + (sigma_next / sigma - 1) * eta)
        renoise = (sigma_next ** 2 - down ** 2 * (1 - sigma_next) ** 2 / (1 - down) ** 2).clamp(min=0).sqrt()
        x = (down / sigma) * x + (1 - down / sigma) * denoised
        return (1 - sigma_next) / (1 - down) * x + noise * renoise
    up = torch.minimum(sigma_next, eta * (sigma_next ** 2 * (sigma ** 2 - sigma_next ** 2) / sigma ** 2).sqrt())
    down = (sigma_next ** 2 - up ** 2).sqrt()
    return x + (x - denoised) / sigma * (down - sigma) + noise * up


def is_max_denoise(first_sigma: float, sigma_max: float) -> bool:
    """ComfyUI's rule for scaling pure noise to the model's top level (EPS: z*sqrt(1 + sigma^2))."""
    return math.isclose(sigma_max, first_sigma, rel_tol=1e-5) or first_sigma > sigma_max


def frame_seed(seed: int, stream: int, frame: int, level: int = 0) -> int:
    """A 64-bit seed from (seed, stream, frame index, level): splitmix64 over the keys."""
    h = 0x9E3779B97F4A7C15
    for k in (seed, stream, frame, level):
        h = (h ^ (k & _MASK)) * 0xBF58476D1CE4E5B9 & _MASK
        h = (h ^ (h >> 27)) * 0x94D049BB133111EB & _MASK
        h ^= h >> 31
    return h


def frame_noise(seed: int, stream: int, frame: int, level: int, shape, dtype=torch.float32) -> torch.Tensor:
    """Unit Gaussian noise of one frame that depends only on (seed, stream, frame, level), made on the CPU
    like ComfyUI's noise, so results do not depend on batching, device or output length."""
    g = torch.Generator().manual_seed(frame_seed(seed, stream, frame, level))
    return torch.randn(tuple(shape), generator=g, dtype=dtype)


def schedule_index(starts: list[int], frame: int) -> int:
    """Prompt of a frame: 0 = the sampler's positive, i = the i-th schedule entry (sorted starts), the
    last entry that starts at or before the frame's absolute index."""
    return bisect.bisect_right(starts, max(frame, 0))


def check(f: int, n: int, num_frames: int, windows_per_call: int, start: str, given: int, keep_given: bool) -> str:
    """The first problem with these settings, or '' when they are fine."""
    if f < 2:
        return f"window_frames must be at least 2 (got {f}): use the model's clip length, e.g. 16 for AnimateDiff."
    if n < 1:
        return f"partitions must be at least 1 (got {n})."
    if num_frames < 1:
        return f"num_frames must be at least 1 (got {num_frames})."
    if windows_per_call < 1:
        return f"windows_per_call must be at least 1 (got {windows_per_call})."
    if start not in (GENERATE, CONTINUE):
        return f"start must be '{GENERATE}' or '{CONTINUE}' (got {start!r})."
    if start == CONTINUE and keep_given and num_frames <= given:
        return (f"continue with keep_given_frames outputs the {given} given frames first, so num_frames must be "
                f"more than {given} (got {num_frames}): raise num_frames or turn keep_given_frames off.")
    return ""

