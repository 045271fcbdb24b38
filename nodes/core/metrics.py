"""VBench's video-quality dimensions (Huang et al., VBench, CVPR 2024, arXiv 2311.17982, Sec. 3.1 and Appendix),
written from the paper's definitions, for one video of frames [T, H, W, C] in 0..1:
- subject / background consistency: mean over t >= 1 of (max(0, cos(f_1, f_t)) + max(0, cos(f_{t-1}, f_t))) / 2
  on L2-normalised per-frame features (VBench: DINO ViT-B/16 for subjects, CLIP ViT-B/32 for backgrounds);
- temporal flickering: (255 - mean_t MAE(x_t, x_{t+1})) / 255 on 8-bit frames;
- motion smoothness: drop the odd frames, interpolate them from their even neighbours, score
  (255 - mean MAE(interpolated, real)) / 255 (VBench interpolates with AMT);
- dynamic degree: optical flow between consecutive frames (sampled at about 8 fps); a pair moves when the mean of
  its top 5 % flow magnitudes exceeds 6 * max(1, 8 / fps) * min(H, W) / 256; a video is dynamic when at least
  round(4 * T / 16) pairs move (RAFT in VBench);
- aesthetic quality: mean over frames of the LAION aesthetic predictor's score / 10.
Torch only; the feature and flow models are passed in as functions."""
import torch
import torch.nn.functional as F

TOP_FRACTION = 0.05          # VBench dynamic degree: mean of the top 5 % flow magnitudes of a frame pair
BASE_THRESHOLD = 6.0         # pixels at 256 px and 8 fps
PIXEL_FEATURE_SIZE = 32


def split_videos(frames: torch.Tensor, frames_per_video: int) -> list[torch.Tensor]:
    """An IMAGE batch [N, H, W, C] as consecutive videos of `frames_per_video` frames (0: one video)."""
    n = frames.shape[0]
    per = n if frames_per_video <= 0 else frames_per_video
    if n % per:
        raise ValueError(f"{n} frames do not split into videos of {per} frames")
    return list(frames.split(per))


def eight_bit(frames: torch.Tensor) -> torch.Tensor:
    """The 8-bit levels ComfyUI writes when it saves frames (floor of 255 x, clamped), as float32 0..255."""
    return (frames[..., :3].float() * 255).clamp(0, 255).floor()


def consistency_curve(features: torch.Tensor) -> torch.Tensor:
    """[T-1] per-frame terms (max(0, cos(f_1, f_t)) + max(0, cos(f_{t-1}, f_t))) / 2 for t = 2..T."""
    f = F.normalize(features.float().flatten(1), dim=-1)
    first = (f[1:] @ f[0]).clamp_min(0)
    previous = (f[1:] * f[:-1]).sum(-1).clamp_min(0)
    return (first + previous) / 2


def consistency(features: torch.Tensor) -> float:
    """VBench subject / background consistency of one video's per-frame features [T, D]."""
    return consistency_curve(features).mean().item()


def pixel_features(frames: torch.Tensor, size: int = PIXEL_FEATURE_SIZE) -> torch.Tensor:
    """A weight-free stand-in for a vision backbone: each frame area-resized to size x size, its mean colour
    removed, flattened. Cosines of these are correlations of the frames' coarse layouts."""
    x = F.interpolate(frames[..., :3].movedim(-1, 1).float(), size=(size, size), mode="area")
    return (x - x.mean((2, 3), keepdim=True)).flatten(1)


def flicker_curve(frames: torch.Tensor) -> torch.Tensor:
    """[T-1] per-pair (255 - MAE(x_t, x_{t+1})) / 255 on 8-bit frames."""
    x = eight_bit(frames)
    return (255 - (x[1:] - x[:-1]).abs().mean((1, 2, 3))) / 255


def temporal_flickering(frames: torch.Tensor) -> float:
    """VBench temporal flickering: (255 - mean MAE of consecutive frames) / 255 (the mean of flicker_curve)."""
    return flicker_curve(frames).mean().item()


def blend_midpoint(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Weight-free interpolation proxy: the average of the two neighbours ([..., H, W, C])."""
    return (a + b) / 2


def motion_smoothness_curve(frames: torch.Tensor, interpolate=blend_midpoint) -> torch.Tensor:
    """[floor((T-1)/2)] per odd frame (255 - MAE(interpolated, real)) / 255, on 8-bit frames;
    interpolate(frames[0:-2:2], frames[2::2]) -> the frames between them ([K, H, W, C] in 0..1)."""
    x = frames[..., :3].float()
    even = x[::2]
    guess = interpolate(even[:-1], even[1:])
    real = x[1::2][:guess.shape[0]]
    return (255 - (eight_bit(guess) - eight_bit(real)).abs().mean((1, 2, 3))) / 255


def motion_smoothness(frames: torch.Tensor, interpolate=blend_midpoint) -> float:
    return motion_smoothness_curve(frames, interpolate).mean().item()


def backward_warp(image: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """image [B, C, H, W] sampled at x + flow(x) (flow [B, 2, H, W] in pixels, (dx, dy)), borders clamped."""
    _, _, h, w = image.shape
    ys, xs = torch.meshgrid(torch.arange(h, device=image.device, dtype=flow.dtype),
                            torch.arange(w, device=image.device, dtype=flow.dtype), indexing="ij")
    gx = (xs + flow[:, 0]) * 2 / max(w - 1, 1) - 1
    gy = (ys + flow[:, 1]) * 2 / max(h - 1, 1) - 1
    return F.grid_sample(image, torch.stack((gx, gy), -1), mode="bilinear", padding_mode="border",
                         align_corners=True)


def flow_midpoint(a: torch.Tensor, b: torch.Tensor, flow_ab: torch.Tensor, flow_ba: torch.Tensor) -> torch.Tensor:
    """The frame halfway between a and b ([B, C, H, W]) under linear motion (Jiang et al., Super SloMo, CVPR 2018,
    eq. 4 at t = 1/2): F_t0 = (F_10 - F_01) / 4, F_t1 = (F_01 - F_10) / 4, I_t = (warp(a, F_t0) + warp(b, F_t1)) / 2."""
    f_t0 = (flow_ba - flow_ab) / 4
    return (backward_warp(a, f_t0) + backward_warp(b, -f_t0)) / 2


def top_fraction_mean(magnitude: torch.Tensor, fraction: float = TOP_FRACTION) -> float:
    """Mean of the int(H W fraction) largest values of a [H, W] map (VBench's per-pair motion score)."""
    k = max(int(magnitude.numel() * fraction), 1)
    return magnitude.flatten().topk(k).values.mean().item()


def flow_magnitude(flow: torch.Tensor) -> torch.Tensor:
    """[2, H, W] flow -> [H, W] length in pixels."""
    return flow.float().pow(2).sum(0).sqrt()


def sample_interval(fps: float) -> int:
    """VBench keeps every round(fps / 8)-th frame for dynamic degree (at least every frame)."""
    return max(1, round(fps / 8))


def dynamic_threshold(fps: float, height: int, width: int) -> float:
    """Pixels of top-5 % flow above which a frame pair moves: 6 max(1, 8 / fps) min(H, W) / 256."""
    return BASE_THRESHOLD * max(1.0, 8.0 / fps) * min(height, width) / 256.0


def dynamic_count(frames: int) -> int:
    """Moving pairs needed for a dynamic video: round(4 T / 16), Python's round (half to even) as VBench."""
    return round(4 * frames / 16)


def is_dynamic(pair_scores: list[float], threshold: float, needed: int) -> bool:
    """VBench: dynamic when at least `needed` pairs score above the threshold (a video with no pairs is not)."""
    return len(pair_scores) > 0 and sum(s > threshold for s in pair_scores) >= needed


# --- weight-free optical flow (proxy for RAFT) -------------------------------------------------------------------

def _gray(frames: torch.Tensor) -> torch.Tensor:
    """[..., H, W, C] 0..1 -> [N, 1, H, W] luminance (Rec. 601 weights)."""
    x = frames[..., :3].float()
    w = torch.tensor([0.299, 0.587, 0.114], dtype=x.dtype, device=x.device)
    return (x @ w).reshape(-1, 1, *x.shape[-3:-1])


def _blur(x: torch.Tensor) -> torch.Tensor:
    k = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0], dtype=x.dtype, device=x.device) / 16
    x = F.conv2d(F.pad(x, (2, 2, 0, 0), mode="replicate"), k.view(1, 1, 1, 5))
    return F.conv2d(F.pad(x, (0, 0, 2, 2), mode="replicate"), k.view(1, 1, 5, 1))


def _grad(x: torch.Tensor):
    p = F.pad(x, (1, 1, 1, 1), mode="replicate")
    return (p[..., 1:-1, 2:] - p[..., 1:-1, :-2]) / 2, (p[..., 2:, 1:-1] - p[..., :-2, 1:-1]) / 2


def _neighbour_mean(u: torch.Tensor) -> torch.Tensor:
    k = torch.tensor([[1, 2, 1], [2, 0, 2], [1, 2, 1]], dtype=u.dtype, device=u.device) / 12
    return F.conv2d(F.pad(u, (1, 1, 1, 1), mode="replicate"), k.view(1, 1, 3, 3))


def _median(flow: torch.Tensor, k: int = 5) -> torch.Tensor:
    """k x k median of each flow channel: removes the outliers of the linearised solve (Sun et al., CVPR 2010)."""
    n, c, h, w = flow.shape
    patches = F.unfold(F.pad(flow, (k // 2,) * 4, mode="replicate"), k).view(n, c, k * k, h, w)
    return patches.median(2).values


def horn_schunck(a: torch.Tensor, b: torch.Tensor, alpha: float = 0.05, iterations: int = 60,
                 min_size: int = 16) -> torch.Tensor:
    """Flow [N, 2, H, W] in pixels from frames a to b ([N, H, W, C] in 0..1) with no learned weights: Horn & Schunck
    (1981) on a coarse-to-fine pyramid, b warped by the coarser flow at each level, a 5 x 5 median filter after each
    level (brightness constancy plus smoothness weight alpha^2, luminance in 0..1)."""
    ga, gb = _blur(_gray(a)), _blur(_gray(b))
    pyramid = [(ga, gb)]
    while min(pyramid[-1][0].shape[-2:]) >= 2 * min_size:
        pa, pb = pyramid[-1]
        pyramid.append((F.avg_pool2d(pa, 2), F.avg_pool2d(pb, 2)))
    flow = torch.zeros(ga.shape[0], 2, *pyramid[-1][0].shape[-2:], dtype=ga.dtype, device=ga.device)
    for level_a, level_b in reversed(pyramid):
        if flow.shape[-2:] != level_a.shape[-2:]:
            scale = torch.tensor([level_a.shape[-1] / flow.shape[-1], level_a.shape[-2] / flow.shape[-2]],
                                 dtype=flow.dtype, device=flow.device).view(1, 2, 1, 1)
            flow = F.interpolate(flow, size=level_a.shape[-2:], mode="bilinear", align_corners=False) * scale
        warped = backward_warp(level_b, flow)
        ix, iy = _grad((level_a + warped) / 2)
        it = warped - level_a
        u, v = torch.zeros_like(it), torch.zeros_like(it)
        denom = alpha ** 2 + ix ** 2 + iy ** 2
        for _ in range(iterations):
            ub, vb = _neighbour_mean(u), _neighbour_mean(v)
            r = (ix * ub + iy * vb + it) / denom
            u, v = ub - ix * r, vb - iy * r
        flow = _median(flow + torch.cat((u, v), 1))
    return flow


def in_chunks(fn, a: torch.Tensor, b: torch.Tensor, chunk: int) -> torch.Tensor:
    """fn(a[i:i+chunk], b[i:i+chunk]) over the batch, concatenated (results do not depend on chunk)."""
    return torch.cat([fn(a[i:i + chunk], b[i:i + chunk]) for i in range(0, a.shape[0], chunk)])


def flow_interpolator(flow, chunk: int = 8):
    """An interpolate(a, b) for motion_smoothness_curve from a flow(a, b) -> [N, 2, H, W] function."""
    def interpolate(a, b):
        f_ab, f_ba = in_chunks(flow, a, b, chunk), in_chunks(flow, b, a, chunk)
        mid = flow_midpoint(a.movedim(-1, 1), b.movedim(-1, 1), f_ab.to(a.device), f_ba.to(a.device))
        return mid.movedim(1, -1)
    return interpolate


def dynamic_degree(frames: torch.Tensor, fps: float, flow, chunk: int = 8) -> dict:
    """VBench dynamic degree of one video: frames sampled every round(fps / 8), top-5 % flow magnitude of each
    consecutive pair against dynamic_threshold, dynamic (1.0) when dynamic_count(sampled frames) pairs move.
    Also the fraction of moving pairs and the mean pair score, which separate videos that are both dynamic."""
    x = frames[::sample_interval(fps), ..., :3].float()
    h, w = x.shape[1:3]
    flows = in_chunks(flow, x[:-1], x[1:], chunk) if x.shape[0] > 1 else torch.zeros(0, 2, h, w)
    scores = [top_fraction_mean(flow_magnitude(f)) for f in flows]
    threshold = dynamic_threshold(fps, h, w)
    return {"dynamic": float(is_dynamic(scores, threshold, dynamic_count(x.shape[0]))),
            "moving_fraction": sum(s > threshold for s in scores) / len(scores) if scores else 0.0,
            "pair_scores": scores, "threshold": threshold}


def evaluate(frames: torch.Tensor, fps: float, subject_features: torch.Tensor, background_features: torch.Tensor,
             flow=None, aesthetic: torch.Tensor | None = None, text: torch.Tensor | None = None,
             chunk: int = 8) -> dict:
    """All dimensions of one video [T, H, W, C] (T >= 3). Features [T, D] come from the caller's backbones; flow is
    a flow(a, b) function (None: the blend proxy for motion smoothness and Horn-Schunck for dynamic degree);
    aesthetic and text are per-frame scores [T] (aesthetic in the predictor's 0..10 units). Returns
    {"metrics": name -> value, "per_frame": name -> list, "dynamic_threshold": pixels}."""
    interpolate = blend_midpoint if flow is None else flow_interpolator(flow, chunk)
    dyn = dynamic_degree(frames, fps, flow or horn_schunck, chunk)
    per_frame = {"subject_consistency": consistency_curve(subject_features),
                 "background_consistency": consistency_curve(background_features),
                 "temporal_flickering": flicker_curve(frames),
                 "motion_smoothness": motion_smoothness_curve(frames, interpolate),
                 "flow_top5": torch.tensor(dyn["pair_scores"])}
    metrics = {name: curve.mean().item() for name, curve in per_frame.items() if curve.numel()}
    metrics["dynamic_degree"] = dyn["dynamic"]
    metrics["moving_pairs"] = dyn["moving_fraction"]
    if aesthetic is not None:
        per_frame["aesthetic_quality"] = aesthetic.float() / 10
        metrics["aesthetic_quality"] = per_frame["aesthetic_quality"].mean().item()
    if text is not None:
        per_frame["text_score"] = text.float()
        metrics["text_score"] = per_frame["text_score"].mean().item()
    return {"metrics": metrics, "per_frame": {k: [float(v) for v in c] for k, c in per_frame.items()},
            "dynamic_threshold": dyn["threshold"]}
