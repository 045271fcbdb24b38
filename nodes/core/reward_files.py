"""Reward-model folders: the files each kind needs, which kind a folder holds, and weight reading that never
unpickles code (safetensors, or torch.load(weights_only=True)). Errors name the exact files and the folder."""
import fnmatch
import json
import os
import re
import zipfile

import torch
from safetensors import safe_open

KINDS = ("imagereward", "hpsv2", "pickscore", "clip_score", "aesthetic")
TITLES = {"imagereward": "ImageReward v1.0", "hpsv2": "HPSv2 / v2.1", "pickscore": "PickScore v1",
          "clip_score": "CLIP score", "aesthetic": "LAION aesthetic predictor"}

CLIP_TOKENIZER = [["vocab.json", "merges.txt"], ["tokenizer.json"]]
HF_CLIP = [[["config.json"]], [["model.safetensors"], ["pytorch_model.bin"]]]
HF_CLIP_WEIGHTS = ("model.safetensors", "pytorch_model.bin")
# The LAION aesthetic head under its original name and its usual re-release names (.safetensors conversions,
# the repository's other linear head ava+logos-l14-linearMSE).
AESTHETIC_HEADS = ["sac+logos+ava1-l14-linearMSE.pth", "sac+logos+ava1-l14-linearMSE.safetensors",
                   "*linearMSE*.pth", "*linearMSE*.safetensors", "*aesthetic*.pth", "*aesthetic*.safetensors"]
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
                  "config.json and model.safetensors (or pytorch_model.bin) from yuvalkirstain/PickScore_v1; vocab.json "
                  "and merges.txt (or tokenizer.json) from the same repo or laion/CLIP-ViT-H-14-laion2B-s32B-b79K"),
    "clip_score": (HF_CLIP + [CLIP_TOKENIZER],
                   "config.json, model.safetensors (or pytorch_model.bin), vocab.json and merges.txt (or "
                   "tokenizer.json) of any Hugging Face CLIP repo, e.g. openai/clip-vit-large-patch14"),
    "aesthetic": ([[[p] for p in AESTHETIC_HEADS]] + HF_CLIP,
                  "sac+logos+ava1-l14-linearMSE.pth (or a .safetensors conversion of it) from "
                  "christophschuhmann/improved-aesthetic-predictor, next to config.json and model.safetensors (or "
                  "pytorch_model.bin) of openai/clip-vit-large-patch14 (only its image tower is used)"),
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


def quote(e: BaseException) -> str:
    """A library's own message as ' (Type: text)', whole; '' when it is empty, long or spans lines (never cut)."""
    text = str(e).strip()
    if not text or len(text) > 240 or "\n" in text:
        return ""
    return f" ({type(e).__name__}: {text})"


def _safetensors_defect(path: str) -> str | None:
    """Why a .safetensors file cannot hold its tensors (truncated, no header), or None when it looks whole."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little") if size >= 8 else 0
        if size < 8 or 8 + n > size or n > 100_000_000:
            return (f"it is {size} bytes long and does not start with a safetensors header length that fits: it "
                    "is truncated or not a safetensors file")
        try:
            header = json.loads(f.read(n))
        except ValueError:
            header = None
    if not isinstance(header, dict):
        return "its header is not the JSON table of a safetensors file: it is damaged or not a safetensors file"
    offsets = [v.get("data_offsets") for k, v in header.items() if k != "__metadata__" and isinstance(v, dict)]
    need = 8 + n + max([o[1] for o in offsets if isinstance(o, list) and len(o) == 2 and isinstance(o[1], int)],
                       default=0)
    if need > size:
        return f"it is truncated: its header describes {need} bytes but the file holds {size}"
    return None


def _torch_file_defect(path: str) -> str | None:
    """Why a .pt/.pth/.bin file cannot be a torch.save file, judged from its first bytes, or None."""
    with open(path, "rb") as f:
        head = f.read(4)
    if not head:
        return "it is empty"
    if head.startswith(b"PK"):
        return None if zipfile.is_zipfile(path) else "it is a truncated or damaged zip archive (torch.save's format)"
    if head[:1] != b"\x80":
        return f"it is not a PyTorch weight file (it starts with {head!r}, neither a zip archive nor a pickle)"
    return None


def _torch_load_refusal(e: Exception) -> str:
    """Why torch.load(weights_only=True) refused a file: a global it will not import (pickled code), a pickle it
    cannot read as tensors, or damage (its own message quoted whole when short)."""
    text = str(e)
    if "Unsupported global" in text:
        names = sorted(set(re.findall(r"GLOBAL ([\w.]+)", text)))
        asks = f" (it asks for {', '.join(names)})" if names else ""
        return (f"it holds pickled Python objects other than tensors{asks}, which torch.load(weights_only=True) "
                "refuses and this pack never unpickles, as that could run code. Use the original checkpoint, or a "
                ".safetensors conversion with the same keys")
    if type(e).__name__ == "UnpicklingError" and text.startswith("Weights only load failed"):
        return ("torch.load(weights_only=True) cannot read it as tensors: it is not a torch.save file of weights, or "
                "it is damaged. Use the original checkpoint")
    return f"torch.load could not read it{quote(e)}: it is damaged or truncated. Download it again"


def read_state_dict(path: str, prefixes: tuple[str, ...] | None = None) -> dict[str, torch.Tensor]:
    """Tensors of a .safetensors or a .pt/.pth/.bin file read with weights_only=True (a 'state_dict' entry is
    unwrapped, a DistributedDataParallel 'module.' prefix removed); only keys starting with `prefixes` if given.
    Every failure names the file (and so its folder) and says what is wrong with it."""
    def refuse(why):
        return RewardFileError(f"{path} cannot be used: {why}.")
    keep = lambda k: prefixes is None or k.startswith(prefixes)          # noqa: E731
    try:
        if path.endswith(".safetensors"):
            defect = _safetensors_defect(path)
            if defect:
                raise refuse(defect)
            try:
                with safe_open(path, "pt") as f:
                    return {k: f.get_tensor(k) for k in f.keys() if keep(k)}
            except Exception as e:  # safetensors raises its own error types
                raise refuse(f"the safetensors library could not read it{quote(e)}. Download it again") from None
        defect = _torch_file_defect(path)
        if defect:
            raise refuse(defect + ". Download it again")
        try:
            sd = torch.load(path, map_location="cpu", weights_only=True, mmap=zipfile.is_zipfile(path))
        except Exception as e:  # the unpickler's refusal, a truncated or foreign file
            raise refuse(_torch_load_refusal(e)) from None
    except OSError as e:
        raise refuse(f"it cannot be read ({e.strerror or e})") from None
    if isinstance(sd, dict) and isinstance(sd.get("state_dict"), dict):
        sd = sd["state_dict"]
    if not isinstance(sd, dict):
        raise refuse(f"it holds a {type(sd).__name__}, not a state dict of tensors")
    odd = next((k for k, v in sd.items() if not isinstance(v, torch.Tensor)), None)
    if odd is not None:
        raise refuse(f"it is not a state dict of tensors (its entry {odd!r} is of type {type(sd[odd]).__name__})")
    if sd and all(k.startswith("module.") for k in sd):
        sd = {k[len("module."):]: v for k, v in sd.items()}
    return {k: v for k, v in sd.items() if keep(k)}


def _json_object(path: str) -> tuple[dict | None, str | None]:
    """(the JSON object in `path`, None) or (None, what is wrong with the file)."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except OSError as e:
        return None, f"cannot be read ({e.strerror or e})"
    except ValueError as e:                                     # JSONDecodeError, UnicodeDecodeError
        return None, f"is not valid JSON{quote(e)}: it is damaged"
    if not isinstance(data, dict):
        return None, f"holds a JSON {type(data).__name__}, not an object of settings: it is the wrong file"
    return data, None


def read_json(path: str) -> dict:
    """The JSON object in `path`; the error names the file and what is wrong with it."""
    data, defect = _json_object(path)
    if defect:
        raise RewardFileError(f"{path} {defect}. Download it again.")
    return data


TOKENIZER_FILES = ("tokenizer.json", "vocab.json", "merges.txt", "vocab.txt", "tokenizer_config.json",
                   "special_tokens_map.json", "added_tokens.json")


def _tokenizer_file_defect(path: str) -> str | None:
    """What is wrong with one tokenizer file, or None when nothing is seen."""
    name = os.path.basename(path)
    if name.endswith(".json"):
        data, defect = _json_object(path)
        if defect:
            return defect
        if name == "vocab.json" and not all(isinstance(v, int) for v in data.values()):
            return "does not map every token to an integer id"
        if name == "tokenizer.json" and not isinstance(data.get("model"), dict):
            return "has no 'model' section: it is not a tokenizers file"
        return None
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except UnicodeDecodeError:
        return "is not UTF-8 text"
    except OSError as e:
        return f"cannot be read ({e.strerror or e})"
    entries = [(i + 1, line) for i, line in enumerate(lines) if line.strip() and not line.startswith("#version")]
    if not entries:
        return "is empty"
    if name == "merges.txt":
        bad = next((i for i, line in entries if len(line.split()) != 2), None)
        if bad is not None:
            return f"line {bad} is not a merge of two tokens"
    return None


def load_tokenizer(cls, folder: str, kind: str, vocab_size: int | None):
    """`cls.from_pretrained(folder)` offline, after checking each tokenizer file there. A damaged file, a tokenizer
    that fails on a test prompt or one that makes ids the model does not have is refused naming the folder and
    the files."""
    present = [n for n in TOKENIZER_FILES if os.path.isfile(os.path.join(folder, n))]
    where = f"the {TITLES[kind]} tokenizer in {folder}"
    fix = f"the files come from: {NEEDS[kind][1]}"
    for name in present:
        defect = _tokenizer_file_defect(os.path.join(folder, name))
        if defect:
            raise RewardFileError(f"{where} cannot be loaded: {name} {defect}. Replace it ({fix}).")
    try:
        tokenizer = cls.from_pretrained(folder, local_files_only=True)
        tokenizer(["a photo"])                                  # some damage only shows when a prompt is encoded
    except Exception as e:  # tokenizers / transformers raise many types
        raise RewardFileError(f"{where} cannot be loaded from {', '.join(present) or 'its files'}{quote(e)}. "
                              f"Replace them ({fix}).") from None
    if vocab_size is not None and len(tokenizer) > vocab_size:
        raise RewardFileError(
            f"{where} ({', '.join(present)}) has {len(tokenizer)} tokens but the text encoder knows only "
            f"{vocab_size}: the tokenizer files belong to another model. Replace them ({fix}).")
    return tokenizer


def build(make, path: str, what: str):
    """`make()` on the meta device; settings that cannot make the model are refused naming the file they came
    from."""
    try:
        with torch.device("meta"):
            return make()
    except Exception as e:  # transformers' config validation and the modules' own checks raise many types
        raise RewardFileError(f"{path} describes {what} that cannot be built{quote(e)}: it is damaged or belongs to "
                              "another model. Download it again.") from None


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
