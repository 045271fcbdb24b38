"""What every reward model shares: the scoring interface, the linear head of ImageReward and the LAION aesthetic
predictor, batched scoring and ranking, and the image preprocessing of each official scorer. Both
reward_models.py and imagereward.py build on this module; neither imports the other's internals."""
import kornia
import torch
import torch.nn.functional as F
from torch import nn

OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)

# How each official scorer turns an image into its square input:
#   "torchvision": OpenAI CLIP's transform (ImageReward, the aesthetic predictor): Resize(size) of the short side,
#                  CenterCrop with round((n - size) / 2) offsets (Python's round, half to even);
#   "hf":          transformers' CLIPImageProcessor (PickScore, CLIP score): the same resize, crop offsets
#                  (n - size) // 2;
#   "letterbox":   HPSv2's preprocess_val (open_clip's ResizeMaxSize): the long side to size, aspect kept, zero
#                  padding around it, centred with the odd pixel at the bottom / right.
RECIPES = ("torchvision", "hf", "letterbox")


def _bicubic(x: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
    """Antialiased bicubic resize of [B, C, H, W], as torchvision resizes tensors and close to PIL's BICUBIC."""
    if tuple(x.shape[-2:]) == tuple(hw):
        return x
    return F.interpolate(x, size=hw, mode="bicubic", antialias=True, align_corners=False)


def short_side_size(h: int, w: int, size: int) -> tuple[int, int]:
    """(H, W) after resizing the short side to `size`: the long side is int(size * long / short) (torchvision's
    Resize and transformers' shortest_edge both truncate)."""
    return (size, int(size * w / h)) if h <= w else (int(size * h / w), size)


def resize_short(x: torch.Tensor, size: int) -> torch.Tensor:
    """[B, C, H, W] with the short side resized to `size`."""
    return _bicubic(x, short_side_size(*x.shape[-2:], size))


def crop_offsets(h: int, w: int, size: int, recipe: str) -> tuple[int, int]:
    """(top, left) of the centred size x size crop of an H x W image, as `recipe` computes them."""
    if recipe == "hf":
        return (h - size) // 2, (w - size) // 2
    return round((h - size) / 2), round((w - size) / 2)


def letterbox_geometry(h: int, w: int, size: int) -> tuple[tuple[int, int], tuple[int, int, int, int]]:
    """HPSv2's ResizeMaxSize: the resized (H, W) (each side times size / long side, rounded half to even) and the
    zero padding (left, right, top, bottom) that centres it in size x size. (Where the long side already is
    `size`, the official code passes a non-square image on unpadded, which its ViT cannot take; it is padded.)"""
    scale = size / max(h, w)
    nh, nw = (size, size) if h == w else (max(1, round(h * scale)), max(1, round(w * scale)))
    ph, pw = size - nh, size - nw
    return (nh, nw), (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2)


def to_square(x: torch.Tensor, size: int, recipe: str, short: int | None = None) -> torch.Tensor:
    """[B, C, H, W] in 0..1 -> [B, C, size, size] as the official scorer of `recipe` builds it, before normalising
    (crop recipes: the short side resized to `short`, default `size`, then the centre crop). The crop recipes
    resize uint8 PIL images, so they are clamped to 0..1; HPSv2 resizes a float tensor and is not."""
    h, w = x.shape[-2:]
    if recipe == "letterbox":
        hw, pad = letterbox_geometry(h, w, size)
        return F.pad(_bicubic(x, hw), pad, value=0.0)
    x = resize_short(x, short or size)
    top, left = crop_offsets(*x.shape[-2:], size, recipe)
    return x[..., top:top + size, left:left + size].clamp(0, 1)


def preprocess(images: torch.Tensor, size: int, mean=OPENAI_MEAN, std=OPENAI_STD, recipe: str = "torchvision",
               short: int | None = None) -> torch.Tensor:
    """IMAGE [B, H, W, C] in 0..1 -> normalised [B, 3, size, size], on the images' device."""
    x = to_square(images[..., :3].movedim(-1, 1).float(), size, recipe, short)
    return kornia.enhance.normalize(x, torch.tensor(mean, device=x.device), torch.tensor(std, device=x.device))


def ranking(scores) -> list[int]:
    """Candidate indices, best first; ties keep candidate order."""
    s = [float(v) for v in scores]
    return sorted(range(len(s)), key=lambda i: (-s[i], i))


class LinearHead(nn.Module):
    """The MLP of ImageReward and of the LAION aesthetic predictor: five Linear layers at indices 0, 2, 4, 6, 7
    (1, 3, 5 are dropouts, identities at inference; there is no activation in between)."""

    def __init__(self, dims):
        super().__init__()
        layers = []
        for i, (a, b) in enumerate(zip(dims[:-1], dims[1:])):
            layers.append(nn.Linear(a, b))
            if i < 3:
                layers.append(nn.Identity())
        self.layers = nn.Sequential(*layers)

    @staticmethod
    def dims_from(sd: dict, prefix: str = "layers.") -> list[int] | None:
        """Layer widths from a state dict, or None when it lacks the five linear layers."""
        ws = [sd.get(f"{prefix}{i}.weight") for i in (0, 2, 4, 6, 7)]
        if any(w is None or w.ndim != 2 for w in ws):
            return None
        return [ws[0].shape[1]] + [w.shape[0] for w in ws]

    def forward(self, x):
        return self.layers(x.to(self.layers[0].weight.dtype)).squeeze(-1)


class RewardModel(nn.Module):
    """Scores a batch of images against a prompt (higher is better). Subclasses set `kind`, `text_dependent`."""
    kind = "reward"
    text_dependent = True

    def encode_prompt(self, prompt: str):
        """Whatever `score` needs from the prompt, computed once per ranking."""
        return prompt

    def score(self, images: torch.Tensor, prompt_state) -> torch.Tensor:
        raise NotImplementedError

    def _param(self):
        return next(self.parameters())

    def cast(self, dtype: torch.dtype) -> "RewardModel":
        """Backbone in `dtype`; the small linear heads stay float32 (scores are compared with each other)."""
        self.to(dtype)
        for m in self.modules():
            if isinstance(m, LinearHead):
                m.float()
        return self


@torch.no_grad()
def score_images(model: RewardModel, images: torch.Tensor, prompt: str, batch_size: int, on_batch=None):
    """float32 scores of all candidates in candidate order, `batch_size` images per forward pass."""
    state = model.encode_prompt(prompt)
    out = []
    for start in range(0, images.shape[0], batch_size):
        chunk = images[start:start + batch_size]
        out.append(model.score(chunk, state).float().cpu())
        if on_batch is not None:
            on_batch(chunk.shape[0])
    return torch.cat(out)
