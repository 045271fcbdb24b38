"""I4VGen (Guo et al., arXiv 2406.02230), Sec. 3.1: reward-based anchor selection. Load Reward Model reads
models/reward_models offline; Rank by Reward scores candidate images in batches and returns the best ones, their
latents, and the full ranking."""
import json
import os
import random

import kornia
import torch
from comfy_api.latest import io, ui
from comfy_execution.graph_utils import ExecutionBlocker

import comfy.model_management as mm
import comfy.model_patcher
import folder_paths

from . import host
from .core import reward_files as files
from .core import reward_models as rm

CATEGORY = "training-free-video/i4vgen"
FOLDER = "reward_models"
LOADER, RANK = "Load Reward Model", "Rank by Reward"
PREVIEW_SIZE = 256
PRECISIONS = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
RewardModelType = io.Custom("TFV_REWARD_MODEL")

folder_paths.add_model_folder_path(FOLDER, os.path.join(folder_paths.models_dir, FOLDER), is_default=True)


def model_folders() -> dict[str, str]:
    """Sub-folders of every registered reward_models path, by name (the first path wins)."""
    out = {}
    for base in folder_paths.get_folder_paths(FOLDER):
        if os.path.isdir(base):
            for name in sorted(os.listdir(base)):
                if not name.startswith(".") and os.path.isdir(os.path.join(base, name)):
                    out.setdefault(name, os.path.join(base, name))
    return out


def choose_dtype(precision: str, device) -> torch.dtype:
    if precision in PRECISIONS:
        return PRECISIONS[precision]
    return torch.float16 if mm.should_use_fp16(device, prioritize_performance=True) else torch.float32


class RewardModelHandle:
    """What a TFV_REWARD_MODEL wire carries: the model, its name, and a ModelPatcher so that ComfyUI moves it to
    the GPU and evicts it like its other models (None for the weight-free demo)."""

    def __init__(self, model: rm.RewardModel, name: str, patcher=None):
        self.model, self.name, self.patcher = model, name, patcher

    @property
    def text_dependent(self) -> bool:
        return self.model.text_dependent

    def score(self, images: torch.Tensor, prompt: str, batch_size: int, on_batch=None) -> torch.Tensor:
        if self.patcher is not None:
            mm.load_models_gpu([self.patcher], force_full_load=True)
        return rm.score_images(self.model, images, prompt, batch_size, on_batch)


def load(model_name: str, kind: str = "auto", precision: str = "auto") -> RewardModelHandle:
    if model_name == rm.DEMO_NAME:
        return RewardModelHandle(rm.DemoAesthetic(), rm.DEMO_NAME)
    folder = model_folders().get(model_name)
    if folder is None:
        host.fail(LOADER, f"no folder '{model_name}' in {folder_paths.get_folder_paths(FOLDER)}: put the model's "
                          "files in a sub-folder there and refresh, or pick the demo reward.")
    kind = files.detect_kind(folder) if kind == "auto" else kind
    if kind is None:
        wanted = " | ".join(f"{files.TITLES[k]}: {files.expected_files(k)}" for k in files.KINDS)
        host.fail(LOADER, f"cannot tell which reward model {folder} holds. Put one of these sets of files there, "
                          f"or pick the kind: {wanted}")
    device = mm.get_torch_device()
    try:
        model = rm.load_reward_model(folder, kind, choose_dtype(precision, device))
    except files.RewardFileError as e:
        host.fail(LOADER, str(e))
    patcher = comfy.model_patcher.ModelPatcher(model, load_device=device,
                                               offload_device=mm.text_encoder_offload_device())
    return RewardModelHandle(model, f"{files.TITLES[kind]} ({model_name})", patcher)


class RewardModelLoader(io.ComfyNode):
    SELF_CHECKED = ("model_name",)  # load() names the folders searched and what to put there

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="TFV_RewardModelLoader",
            display_name=LOADER,
            category=CATEGORY,
            description="Loads an image reward model from models/reward_models (one sub-folder per model), with no "
                        "network access: ImageReward v1.0 (I4VGen's choice), HPSv2/v2.1, PickScore, CLIP score or "
                        "the LAION aesthetic predictor. The demo reward needs no files.",
            inputs=[
                io.Combo.Input("model_name", options=[rm.DEMO_NAME] + list(model_folders()), default=rm.DEMO_NAME,
                               tooltip="A sub-folder of models/reward_models (see this node's docs for the exact "
                                       "files of each model), or the weight-free demo score."),
                io.Combo.Input("kind", options=["auto", *files.KINDS], default="auto",
                               tooltip="auto: judged from the file names (a CLIP folder whose name contains "
                                       "'pickscore' is PickScore, any other is CLIP score). Pick one to override."),
                io.Combo.Input("precision", options=["auto", *PRECISIONS], default="auto",
                               tooltip="auto: fp16 where the device supports it, else fp32. Scores are always "
                                       "compared in fp32."),
            ],
            outputs=[RewardModelType.Output(display_name="reward_model",
                                            tooltip="Connect to Rank by Reward.")],
        )

    @classmethod
    def execute(cls, model_name, kind, precision):
        host.check_inputs(cls, locals())
        return io.NodeOutput(load(model_name, kind, precision))


def thumbnails(images: torch.Tensor) -> torch.Tensor:
    """Candidates shrunk so that the long side is at most PREVIEW_SIZE, for the node's preview."""
    if max(images.shape[1:3]) <= PREVIEW_SIZE:
        return images
    x = kornia.geometry.transform.resize(images[..., :3].movedim(-1, 1).float(), PREVIEW_SIZE, side="long",
                                         antialias=True)
    return x.clamp(0, 1).movedim(1, -1)


def select_latents(latents: dict, best: list[int]) -> dict:
    """The chosen entries of a LATENT batch, best first (noise_mask and batch_index follow when per-candidate)."""
    n = latents["samples"].shape[0]
    out = dict(latents, samples=latents["samples"][best].clone())
    mask = latents.get("noise_mask")
    if isinstance(mask, torch.Tensor) and mask.shape[0] == n:
        out["noise_mask"] = mask[best].clone()
    if isinstance(latents.get("batch_index"), list) and len(latents["batch_index"]) == n:
        out["batch_index"] = [latents["batch_index"][i] for i in best]
    return out


def missing_latents() -> ExecutionBlocker:
    """Stands on the latents output when no latents came in: ComfyUI stops any node that uses it, with this text."""
    return ExecutionBlocker(f"[{RANK}] its 'latents' output is empty because its optional 'latents' input is not "
                            "connected: connect the LATENT batch the candidate images were decoded from (same "
                            "order), or use the 'images' output.")


def ranking_table(name: str, scores: list[float], order: list[int], top_k: int) -> str:
    lines = [f"{name}: {len(scores)} candidates, top {top_k} marked *", "rank  index     score"]
    lines += [f"{r + 1:>4}  {i:>5}  {scores[i]:>8.4f}{'  *' if r < top_k else ''}" for r, i in enumerate(order)]
    return "\n".join(lines)


class RankByReward(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="TFV_RankByReward",
            display_name=RANK,
            category=CATEGORY,
            description="I4VGen's generation-selection step: scores every candidate image against the prompt with "
                        "a reward model and returns the best (the anchor image), its latent, and the full ranking. "
                        "The node shows all candidates with their scores.",
            is_output_node=True,
            inputs=[
                RewardModelType.Input("reward_model", tooltip="From Load Reward Model."),
                io.Image.Input("images", tooltip="The candidate images (I4VGen: 16 from the image model)."),
                io.String.Input("prompt", multiline=True, default="",
                                tooltip="The prompt the candidates were made from. Text-independent rewards "
                                        "(aesthetic, demo) ignore it."),
                io.Int.Input("top_k", default=1, min=1, max=4096,
                             tooltip="How many of the best candidates to return, best first (I4VGen: 1)."),
                io.Int.Input("batch_size", default=16, min=1, max=1024,
                             tooltip="Images per reward-model pass; lower it if memory runs out. Scores do not "
                                     "depend on it."),
                io.Latent.Input("latents", optional=True,
                                tooltip="Optional: the LATENT batch the images were decoded from (same order), so "
                                        "the winner's latent comes out without re-encoding."),
            ],
            outputs=[
                io.Image.Output(display_name="images", tooltip="The top_k images, best first."),
                io.Latent.Output(display_name="latents",
                                 tooltip="Their latents, best first. Without a latents input, a node that uses "
                                         "this output is blocked with a message."),
                io.String.Output(display_name="indices", tooltip="Candidate indices of the top_k, best first, "
                                                                 "comma-separated (0-based)."),
                io.String.Output(display_name="scores", tooltip="JSON list of every candidate's score, in "
                                                                "candidate order."),
                io.String.Output(display_name="ranking", tooltip="A readable table of the full ranking."),
            ],
        )

    @classmethod
    def execute(cls, reward_model, images, prompt, top_k, batch_size, latents=None):
        host.check_inputs(cls, locals())
        n = images.shape[0]
        if top_k > n:
            host.fail(RANK, f"top_k is {top_k} but there are only {n} candidate images: lower top_k.")
        if reward_model.text_dependent and not prompt.strip():
            host.fail(RANK, f"{reward_model.name} scores how well an image matches a prompt, but the prompt is "
                            "empty: enter the prompt the candidates were generated from.")
        if latents is not None and latents["samples"].shape[0] != n:
            host.fail(RANK, f"the latents hold a batch of {latents['samples'].shape[0]} but there are {n} images: "
                            "connect the LATENT batch the images were decoded from (one latent per image).")
        progress = host.Progress(n)
        scores = reward_model.score(images, prompt, batch_size, progress.update)
        if not torch.isfinite(scores).all():
            host.fail(RANK, f"{reward_model.name} gave non-finite scores {scores.tolist()}: try precision fp32 "
                            "in Load Reward Model.")
        values, order = scores.tolist(), rm.ranking(scores)
        best = order[:top_k]
        prefix = "tfv_rank_" + "".join(random.choices("abcdefghijklmnopqrstuvwxyz", k=5))
        previews = ui.ImageSaveHelper.save_images(thumbnails(images), filename_prefix=prefix,
                                                  folder_type=io.FolderType.temp, cls=None, compress_level=1)
        return io.NodeOutput(
            images[best].clone(), missing_latents() if latents is None else select_latents(latents, best),
            ",".join(map(str, best)), json.dumps(values), ranking_table(reward_model.name, values, order, top_k),
            ui={"tfv_candidates": previews, "tfv_scores": values, "tfv_ranking": order, "tfv_top_k": [top_k]})


NODES = [RewardModelLoader, RankByReward]
