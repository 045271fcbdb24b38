"""Reward-model folders: the files each kind needs, which kind a folder holds, and weight reading that never
unpickles code (safetensors, or torch.load(weights_only=True)). Errors name the exact files and the folder."""
import fnmatch
import os
import zipfile

import torch
from safetensors.torch import load_file

KINDS = ("imagereward", "hpsv2", "pickscore", "clip_score", "aesthetic")
TITLES = {"imagereward": "ImageReward v1.0", "hpsv2": "HPSv2 / v2.1", "pickscore": "PickScore v1",
          "clip_score": "CLIP score", "aesthetic": "LAION aesthetic predictor"}

CLIP_TOKENIZER = [["vocab.json", "merges.txt"], ["tokenizer.json"]]
HF_CLIP = [[["config.json"]], [["model.safetensors"]]]
# kind -> requirements; each requirement is a list of alternatives, each alternative a list of file patterns
# that must all be present; then where the files come from.
NEEDS = {
    "imagereward": ([[["ImageReward.pt"], ["ImageReward.safetensors"]], [["med_config.json"]], [["vocab.txt"]]],
                    "ImageReward.pt and med_config.json from the Hugging Face repo THUDM/ImageReward; vocab.txt "
                    "from google-bert/bert-base-uncased (its tokenizer vocabulary)"),
    "hpsv2": ([[["HPS_v2.1_compressed.pt"], ["HPS_v2_compressed.pt"], ["HPS_v2*.safetensors"]], CLIP_TOKENIZER],
              "HPS_v2.1_compressed.pt (or HPS_v2_compressed.pt) from xswu/HPSv2; vocab.json and merges.txt (or "
              "tokenizer.json) from any CLIP tokenizer, e.g. laion/CLIP-ViT-H-14-laion2B-s32B-b79K"),
    "pickscore": (HF_CLIP + [CLIP_TOKENIZER],
                  "config.json and model.safetensors from yuvalkirstain/PickScore_v1; vocab.json and merges.txt (or "
                  "tokenizer.json) from the same repo or laion/CLIP-ViT-H-14-laion2B-s32B-b79K"),
    "clip_score": (HF_CLIP + [CLIP_TOKENIZER],
                   "config.json, model.safetensors, vocab.json and merges.txt (or tokenizer.json) of any "
                   "Hugging Face CLIP repo, e.g. openai/clip-vit-large-patch14"),
    "aesthetic": ([[["sac+logos+ava1-l14-linearMSE.pth"], ["*linearMSE*.pth"], ["*aesthetic*.pth"],
                    ["*aesthetic*.safetensors"]]] + HF_CLIP,
                  "sac+logos+ava1-l14-linearMSE.pth from christophschuhmann/improved-aesthetic-predictor, next to "
                  "config.json and model.safetensors of openai/clip-vit-large-patch14 (only its image tower is used)"),
}


class RewardFileError(ValueError):
    """A reward-model folder or file that cannot be used; the message says which files go where."""


def _match(names, pattern):
    return sorted(n for n in names if fnmatch.fnmatch(n, pattern))


def _describe(requirement) -> str:
    return " or ".join(" + ".join(alt) for alt in requirement)


def detect_kind(folder: str) -> str | None:
    """The kind a folder holds, judged from its file names (None when nothing is recognised)."""
    names = os.listdir(folder)
    for kind in ("imagereward", "hpsv2", "aesthetic"):
        if any(_match(names, p) for alt in NEEDS[kind][0][0] for p in alt):
            return kind
    if "config.json" in names:
        return "pickscore" if "pickscore" in os.path.basename(os.path.normpath(folder)).lower() else "clip_score"
    return None


def expected_files(kind: str) -> str:
    reqs, source = NEEDS[kind]
    return f"{'; '.join(_describe(r) for r in reqs)} ({source})"


def resolve(folder: str, kind: str) -> dict[str, str]:
    """Pattern -> path of every file `kind` needs in `folder`; raises naming what is missing and where."""
    names = os.listdir(folder) if os.path.isdir(folder) else []
    found, missing = {}, []
    for req in NEEDS[kind][0]:
        for alt in req:
            hits = [_match(names, p) for p in alt]
            if all(hits):
                found.update({p: os.path.join(folder, h[0]) for p, h in zip(alt, hits)})
                break
        else:
            missing.append(_describe(req))
    if missing:
        raise RewardFileError(
            f"{TITLES[kind]} needs these files in {folder}: {expected_files(kind)}. "
            f"Missing: {'; '.join(missing)}.")
    return found


def first(found: dict[str, str], *patterns: str) -> str | None:
    return next((found[p] for p in patterns if p in found), None)


def read_state_dict(path: str) -> dict[str, torch.Tensor]:
    """Tensors of a .safetensors or a .pt/.pth/.bin file read with weights_only=True (a 'state_dict' entry is
    unwrapped, a DistributedDataParallel 'module.' prefix removed)."""
    try:
        if path.endswith(".safetensors"):
            sd = load_file(path)
        else:
            sd = torch.load(path, map_location="cpu", weights_only=True, mmap=zipfile.is_zipfile(path))
    except Exception as e:  # the unpickler's refusal, a truncated or foreign file: all reported the same way
        raise RewardFileError(
            f"{path} is not a plain weight file: torch.load(weights_only=True) / safetensors refused it "
            f"({str(e).splitlines()[0][:200]}). This pack never unpickles code: use the original checkpoint "
            "or a .safetensors conversion with the same keys.") from None
    if isinstance(sd, dict) and isinstance(sd.get("state_dict"), dict):
        sd = sd["state_dict"]
    if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise RewardFileError(f"{path} holds no state dict of tensors.")
    if sd and all(k.startswith("module.") for k in sd):
        sd = {k[len("module."):]: v for k, v in sd.items()}
    return sd


def load_strict(module: torch.nn.Module, sd: dict, what: str, path: str) -> None:
    """Load `sd` into `module` (built on the meta device) only if keys and shapes match exactly, so a wrong
    file is refused with a message instead of leaving random weights."""
    own = module.state_dict()
    missing = sorted(set(own) - set(sd))
    unexpected = sorted(set(sd) - set(own))
    if missing or unexpected:
        raise RewardFileError(
            f"{path} is not {what}: {len(missing)} expected weights are missing (e.g. {missing[:3]}) and "
            f"{len(unexpected)} are unexpected (e.g. {unexpected[:3]}). Check that the right file is in the folder.")
    wrong = [f"{k}: file {tuple(sd[k].shape)} vs model {tuple(v.shape)}" for k, v in own.items()
             if sd[k].shape != v.shape]
    if wrong:
        raise RewardFileError(f"{path} does not fit {what}: shape mismatch at {wrong[:3]}. Check the config "
                              "files next to it belong to this checkpoint.")
    module.load_state_dict(sd, strict=True, assign=True)
    for name, buf in list(module.named_buffers()):
        if buf.is_meta:   # non-persistent position_ids of the transformers modules
            owner, _, attr = name.rpartition(".")
            if attr != "position_ids":
                raise RewardFileError(f"internal: buffer {name} was not loaded")
            module.get_submodule(owner).register_buffer(
                attr, torch.arange(buf.shape[-1]).expand(buf.shape).clone(), persistent=False)
