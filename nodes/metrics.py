"""VBench-style video metrics in the graph (Huang et al., VBench, CVPR 2024, arXiv 2311.17982): Video Metrics measures
the videos of an IMAGE batch (consistency, flickering, motion smoothness, dynamic degree, aesthetic and text
scores) on the models the user has; Compare Videos sets two or more results side by side. Maths in core/metrics.py."""
import json
import os

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont
from comfy_api.latest import io, ui

import comfy.model_management as mm
import folder_paths

from . import host
from .core import metrics as vm
from .core import optical_flow as of
from .core import reward_models as rm
from .reward import RewardModelType

CATEGORY = "training-free-video/metrics"
METRICS, COMPARE = "Video Metrics", "Compare Videos"
FLOW_FOLDER = "optical_flow"
NO_FLOW = "none (weight-free proxies)"
PIXELS = "pixels 32x32 (weight-free proxy)"
HORN_SCHUNCK = "Horn-Schunck flow (weight-free proxy for RAFT)"
BLEND = "neighbour average (weight-free proxy for AMT)"
MetricsType = io.Custom("TFV_VIDEO_METRICS")

folder_paths.add_model_folder_path(FLOW_FOLDER, os.path.join(folder_paths.models_dir, FLOW_FOLDER), is_default=True)

# metric key -> table title (the help page says how to read each)
ROWS = {"subject_consistency": "subject consistency", "background_consistency": "background consistency",
        "temporal_flickering": "temporal flickering", "motion_smoothness": "motion smoothness",
        "dynamic_degree": "dynamic degree", "moving_pairs": "moving frame pairs", "flow_top5": "top-5% flow (px)",
        "aesthetic_quality": "aesthetic quality", "text_score": "text-video score"}


class MetricsResult:
    """What a TFV_VIDEO_METRICS wire carries: one JSON-ready dict per video."""

    def __init__(self, videos: list[dict]):
        self.videos = videos


def flow_files() -> list[str]:
    return folder_paths.get_filename_list(FLOW_FOLDER)


_raft_cache: dict = {}


def flow_file(name: str) -> str | None:
    """The RAFT weight file's path (None for the weight-free proxy); a clear error if it is missing."""
    if name == NO_FLOW:
        return None
    path = folder_paths.get_full_path(FLOW_FOLDER, name)
    if path is None:
        host.fail(METRICS, f"flow_model '{name}' is not in {folder_paths.get_folder_paths(FLOW_FOLDER)}: put a "
                           f"torchvision RAFT weight file there ({of.SOURCES}) and refresh, or pick '{NO_FLOW}'.")
    return path


def load_flow(name: str):
    """(flow function or None, its name). RAFT models stay cached per file and modification time."""
    path = flow_file(name)
    if path is None:
        return None, HORN_SCHUNCK
    key = (path, os.path.getmtime(path))
    if key not in _raft_cache:
        try:
            _raft_cache.clear()
            _raft_cache[key] = of.load_raft(path)
        except of.FlowFileError as e:
            host.fail(METRICS, str(e))
    model = _raft_cache[key].to(mm.get_torch_device())
    return (lambda a, b: of.raft_flow(model, a, b)), f"RAFT ({name})"


def reward_tower(handle):
    """The CLIP image tower of a reward model (CLIP score, PickScore, HPSv2, aesthetic), else None."""
    if handle is None:
        return None
    return getattr(handle.model, "clip", None) or getattr(handle.model, "tower", None)


def tower_features(handle, frames: torch.Tensor, batch_size: int) -> torch.Tensor:
    """L2-normalised projected CLIP image embeddings [T, D] of a reward model's tower, with its own preprocessing."""
    model, tower = handle.model, reward_tower(handle)
    if handle.patcher is not None:
        mm.load_models_gpu([handle.patcher], force_full_load=True)
    p = next(tower.parameters())
    out = []
    for chunk in frames.split(batch_size):
        pixels = rm.preprocess(chunk.to(p.device), model.image_size, model.mean, model.std).to(p.dtype)
        out.append(rm.image_features(tower, pixels).float().cpu())
    return torch.cat(out)


def clip_vision_features(clip_vision, frames: torch.Tensor, batch_size: int) -> torch.Tensor:
    """ComfyUI CLIP_VISION embeddings [T, D] (image_embeds: CLIP's projection, DINOv2's pooled output)."""
    return torch.cat([clip_vision.encode_image(chunk)["image_embeds"].float().cpu()
                      for chunk in frames.split(batch_size)])


def clip_vision_name(clip_vision) -> str:
    return f"CLIP_VISION {type(clip_vision.model).__name__}"


def backbones(clip_vision, aesthetic_model, text_model):
    """(subject, background) backbones as (name, features(frames, batch_size)). VBench uses DINO for subjects and
    CLIP for backgrounds: CLIP_VISION (which can hold DINOv2) goes first for subjects, a reward model's CLIP tower
    first for backgrounds; the pixel proxy when neither is connected."""
    found = []
    if clip_vision is not None:
        found.append((clip_vision_name(clip_vision), lambda x, b: clip_vision_features(clip_vision, x, b)))
    handle = next((h for h in (text_model, aesthetic_model) if reward_tower(h) is not None), None)
    if handle is not None:
        found.append((f"{handle.name} image tower", lambda x, b: tower_features(handle, x, b)))
    if not found:
        found.append((PIXELS, lambda x, b: vm.pixel_features(x)))
    return found[0], found[-1]


def check_inputs(images, frames_per_video, fps, aesthetic_model, text_model, prompt):
    n = images.shape[0]
    if frames_per_video > 0 and n % frames_per_video:
        host.fail(METRICS, f"the batch has {n} frames, which is not a whole number of videos of frames_per_video = "
                           f"{frames_per_video}: set frames_per_video to the frames of one video (0 = the whole "
                           "batch is one video).")
    per = frames_per_video or n
    if per < 3:
        host.fail(METRICS, f"each video has {per} frames; motion smoothness and the consistencies need at least 3: "
                           "connect a video (the frames of one clip in the batch) or raise frames_per_video.")
    if not (fps > 0 and fps < float("inf")):
        host.fail(METRICS, f"fps is {fps}: enter the video's frame rate (VBench's thresholds assume 8).")
    if aesthetic_model is not None and aesthetic_model.model.kind not in ("aesthetic", "demo"):
        host.fail(METRICS, f"aesthetic_model is {aesthetic_model.name}, not an aesthetic predictor: load the LAION "
                           "aesthetic predictor (or the demo reward) in Load Reward Model, or disconnect it.")
    if text_model is not None and not text_model.text_dependent:
        host.fail(METRICS, f"text_model is {text_model.name}, which ignores the prompt: load CLIP score (or "
                           "PickScore, HPSv2, ImageReward) in Load Reward Model, or disconnect it.")
    if text_model is not None and not prompt.strip():
        host.fail(METRICS, "text_model is connected but the prompt is empty: enter the prompt the video was made "
                           "from.")


def measure(images, frames_per_video, fps, label, flow_model, batch_size, clip_vision=None, aesthetic_model=None,
            text_model=None, prompt="") -> MetricsResult:
    flow_file(flow_model)
    check_inputs(images, frames_per_video, fps, aesthetic_model, text_model, prompt)
    flow, flow_name = load_flow(flow_model)
    (subject_name, subject), (background_name, background) = backbones(clip_vision, aesthetic_model, text_model)
    videos = vm.split_videos(images, frames_per_video)
    progress = host.Progress(len(videos))
    results = []
    for i, frames in enumerate(videos):
        s_feat = subject(frames, batch_size)
        b_feat = s_feat if background_name == subject_name else background(frames, batch_size)
        aesthetic = None if aesthetic_model is None else aesthetic_model.score(frames, "", batch_size)
        text = None if text_model is None else text_model.score(frames, prompt, batch_size)
        r = vm.evaluate(frames.cpu(), fps, s_feat, b_feat, flow, aesthetic, text, batch_size)
        name = label.strip() or "video"
        results.append({
            "label": name if len(videos) == 1 else f"{name} #{i + 1}", "frames": frames.shape[0],
            "height": frames.shape[1], "width": frames.shape[2], "fps": fps,
            "backbones": {"subject_consistency": subject_name, "background_consistency": background_name,
                          "dynamic_degree": flow_name,
                          "motion_smoothness": f"flow warp ({flow_name})" if flow else BLEND,
                          "aesthetic_quality": None if aesthetic_model is None else aesthetic_model.name,
                          "text_score": None if text_model is None else text_model.name},
            "dynamic_threshold_px": r["dynamic_threshold"], "metrics": r["metrics"], "per_frame": r["per_frame"]})
        progress.update()
    return MetricsResult(results)


def fmt(v) -> str:
    return "–" if v is None else f"{v:.4f}"


def table(videos: list[dict], differences: bool = False) -> str:
    """Markdown: one row per metric, one column per video (and its difference to the first when asked)."""
    head = ["metric"] + [v["label"] for v in videos]
    if differences:
        head += [f"Δ {v['label']} − {videos[0]['label']}" for v in videos[1:]]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for key, title in ROWS.items():
        vals = [v["metrics"].get(key) for v in videos]
        if all(x is None for x in vals):
            continue
        cells = [title] + [fmt(x) for x in vals]
        if differences:
            cells += ["–" if x is None or vals[0] is None else f"{x - vals[0]:+.4f}" for x in vals[1:]]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def backbone_notes(videos: list[dict]) -> str:
    lines = []
    for key, title in ROWS.items():
        names = {v["backbones"].get(key) for v in videos if key in v["backbones"]} - {None}
        if names:
            warn = " (differs between videos: not comparable)" if len(names) > 1 else ""
            lines.append(f"- {title}: {' / '.join(sorted(names))}{warn}")
    return "Measured with:\n" + "\n".join(lines)


def summary(videos: list[dict], differences: bool = False) -> str:
    return f"{table(videos, differences)}\n\n{backbone_notes(videos)}\n\nVBench formulas (arXiv 2311.17982); " \
           "proxies are named where a VBench model was not available."


COLOURS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75),
           (227, 119, 194), (127, 127, 127)]
CURVES = ["subject_consistency", "background_consistency", "temporal_flickering", "motion_smoothness", "flow_top5",
          "aesthetic_quality", "text_score"]


def plot(videos: list[dict], panel=(360, 200), columns: int = 2) -> torch.Tensor:
    """IMAGE [1, H, W, 3]: one panel per per-frame curve, one coloured line per video, legend on top."""
    names = [k for k in CURVES if any(v["per_frame"].get(k) for v in videos)]
    rows = -(-len(names) // columns)
    pw, ph = panel
    legend = 18 * len(videos) + 8
    img = Image.new("RGB", (pw * columns, ph * rows + legend), "white")
    d, font = ImageDraw.Draw(img), ImageFont.load_default()
    for i, v in enumerate(videos):
        d.rectangle([8, 6 + 18 * i, 22, 18 + 18 * i], fill=COLOURS[i % len(COLOURS)])
        d.text((28, 6 + 18 * i), v["label"], fill="black", font=font)
    for n, key in enumerate(names):
        x0, y0 = (n % columns) * pw, legend + (n // columns) * ph
        box = (x0 + 50, y0 + 22, x0 + pw - 12, y0 + ph - 22)
        curves = [v["per_frame"].get(key) or [] for v in videos]
        flat = [y for c in curves for y in c]
        lo, hi = min(flat), max(flat)
        if hi - lo < 1e-6:
            lo, hi = lo - 0.5e-3, hi + 0.5e-3
        d.text((x0 + 50, y0 + 4), ROWS[key] + " per frame", fill="black", font=font)
        d.rectangle(box, outline=(160, 160, 160))
        d.text((x0 + 2, box[1] - 4), f"{hi:.3f}", fill=(90, 90, 90), font=font)
        d.text((x0 + 2, box[3] - 8), f"{lo:.3f}", fill=(90, 90, 90), font=font)
        longest = max(len(c) for c in curves)
        for i, c in enumerate(curves):
            pts = [(box[0] + (box[2] - box[0]) * (j / max(longest - 1, 1)),
                    box[3] - (box[3] - box[1]) * (y - lo) / (hi - lo)) for j, y in enumerate(c)]
            if len(pts) > 1:
                d.line(pts, fill=COLOURS[i % len(COLOURS)], width=2)
            elif pts:
                d.ellipse([pts[0][0] - 2, pts[0][1] - 2, pts[0][0] + 2, pts[0][1] + 2], fill=COLOURS[i % len(COLOURS)])
    return torch.from_numpy(np.asarray(img).copy()).float().div(255)[None]


def save_json(videos: list[dict], prefix: str) -> dict:
    """Writes the results as <prefix>_<counter>_.json in ComfyUI's output folder; returns its UI entry."""
    out_dir = folder_paths.get_output_directory()
    folder, name, counter, subfolder, _ = folder_paths.get_save_image_path(prefix, out_dir)
    filename = f"{name}_{counter:05}_.json"
    with open(os.path.join(folder, filename), "w") as f:
        json.dump({"benchmark": "VBench dimensions (arXiv 2311.17982)", "videos": videos}, f, indent=1)
    return {"filename": filename, "subfolder": subfolder, "type": "output"}


class VideoMetrics(io.ComfyNode):
    SELF_CHECKED = ("flow_model",)  # its own message says which folder the weight file goes in

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="TFV_VideoMetrics",
            display_name=METRICS,
            category=CATEGORY,
            description="VBench's video-quality dimensions for each video in an IMAGE batch: subject and background "
                        "consistency, temporal flickering, motion smoothness, dynamic degree, aesthetic quality and a "
                        "text-video score, on the models you connect (weight-free proxies otherwise, named in the "
                        "result). Shows a table and per-frame curves; saves a JSON file in the output folder.",
            is_output_node=True,
            inputs=[
                io.Image.Input("images", tooltip="The decoded video frames (e.g. from VAE Decode): the IMAGE batch "
                                                 "holds the frames of one video, or of several (frames_per_video)."),
                io.Int.Input("frames_per_video", default=0, min=0, max=100000,
                             tooltip="Frames of one video when the batch holds several videos one after another "
                                     "(e.g. 2 videos of 16 frames: 16). 0: the whole batch is one video."),
                io.Float.Input("fps", default=8.0, min=0.1, max=240.0, step=0.1,
                               tooltip="The video's frame rate. Dynamic degree follows VBench: frames sampled at "
                                       "about 8 fps, threshold scaled by max(1, 8/fps) and by min(H, W)/256."),
                io.String.Input("label", default="",
                                tooltip="A name for this video in tables and plots (e.g. 'with FreeInit')."),
                io.Combo.Input("flow_model", options=[NO_FLOW] + flow_files(), default=NO_FLOW,
                               tooltip="A torchvision RAFT weight file from models/optical_flow (dynamic degree "
                                       "as VBench, and flow-based interpolation for motion smoothness). "
                                       "none: Horn-Schunck flow and the neighbour average, weight-free proxies."),
                io.Int.Input("batch_size", default=16, min=1, max=1024,
                             tooltip="Frames per model pass; lower it if memory runs out. Results do not depend "
                                     "on it."),
                io.String.Input("filename_prefix", default="metrics/tfv_metrics",
                                tooltip="Where the JSON file goes in ComfyUI's output folder."),
                io.ClipVision.Input("clip_vision", optional=True,
                                    tooltip="Optional: a CLIP vision (or DINOv2) model from Load CLIP Vision, for "
                                            "subject consistency (VBench uses DINO features there)."),
                RewardModelType.Input("aesthetic_model", optional=True,
                                      tooltip="Optional: the LAION aesthetic predictor (or the demo reward) from "
                                              "Load Reward Model, for aesthetic quality; its CLIP tower also serves "
                                              "background consistency."),
                RewardModelType.Input("text_model", optional=True,
                                      tooltip="Optional: a text-image reward (CLIP score, PickScore, HPSv2, "
                                              "ImageReward) from Load Reward Model, for the text-video score; a "
                                              "CLIP tower also serves background consistency."),
                io.String.Input("prompt", multiline=True, default="", optional=True,
                                tooltip="The prompt the video was made from (needed with text_model)."),
            ],
            outputs=[
                MetricsType.Output(display_name="metrics", tooltip="The results, for Compare Videos."),
                io.String.Output(display_name="summary", tooltip="A Markdown table of the results and the models "
                                                                 "they were measured with."),
                io.Image.Output(display_name="plot", tooltip="Per-frame curves of every metric, one line per "
                                                             "video."),
            ],
        )

    @classmethod
    def execute(cls, images, frames_per_video, fps, label, flow_model, batch_size, filename_prefix,
                clip_vision=None, aesthetic_model=None, text_model=None, prompt=""):
        host.check_inputs(cls, locals())
        result = measure(images, frames_per_video, fps, label, flow_model, batch_size, clip_vision,
                         aesthetic_model, text_model, prompt or "")
        text, image = summary(result.videos), plot(result.videos)
        saved = save_json(result.videos, filename_prefix)
        host.show_text(table(result.videos))
        return io.NodeOutput(result, text, image, ui={**ui.PreviewImage(image, cls=cls).as_dict(),
                                                      "text": [text], "tfv_metrics_json": [saved]})


class CompareVideos(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="TFV_CompareVideos",
            display_name=COMPARE,
            category=CATEGORY,
            description="Sets two or more Video Metrics results side by side (e.g. the same seed with and without "
                        "FreeInit): a table with each video's difference to the first, and overlaid per-frame "
                        "curves.",
            is_output_node=True,
            inputs=[
                MetricsType.Input("metrics_1", tooltip="The reference (e.g. without the method): differences are "
                                                       "taken against its first video."),
                MetricsType.Input("metrics_2", optional=True, tooltip="Another result (e.g. with the method)."),
                MetricsType.Input("metrics_3", optional=True, tooltip="Optional third result."),
                MetricsType.Input("metrics_4", optional=True, tooltip="Optional fourth result."),
            ],
            outputs=[
                io.String.Output(display_name="comparison", tooltip="A Markdown table: every video's metrics and its "
                                                                    "difference to the first video."),
                io.Image.Output(display_name="plot", tooltip="Per-frame curves of all videos overlaid."),
            ],
        )

    @classmethod
    def execute(cls, metrics_1, metrics_2=None, metrics_3=None, metrics_4=None):
        host.check_inputs(cls, locals())
        videos = [v for m in (metrics_1, metrics_2, metrics_3, metrics_4) if m is not None for v in m.videos]
        if len(videos) < 2:
            host.fail(COMPARE, f"there is {len(videos)} video to compare: connect a second Video Metrics result to "
                               "metrics_2 (or measure a batch of several videos with frames_per_video).")
        text, image = summary(videos, differences=True), plot(videos)
        host.show_text(table(videos, differences=True))
        return io.NodeOutput(text, image, ui={**ui.PreviewImage(image, cls=cls).as_dict(), "text": [text]})


NODES = [VideoMetrics, CompareVideos]
