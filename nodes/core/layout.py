"""The two video latent layouts: frames in the batch [F,C,H,W] and native 5D [B,C,T,H,W]."""
from dataclasses import dataclass

import torch
from einops import rearrange

FRAMES_IN_BATCH = "frames_in_batch"
VIDEO_5D = "video_5d"


class LayoutError(ValueError):
    """A latent that a node cannot use; the message says what to change."""


@dataclass(frozen=True)
class Layout:
    kind: str          # FRAMES_IN_BATCH or VIDEO_5D
    frame_axis: int    # 0 for frames in the batch, 2 for 5D
    frames: int        # frames per video
    videos: int        # independent videos (1 for frames in the batch)

    @property
    def is_5d(self) -> bool:
        return self.kind == VIDEO_5D


def detect(x: torch.Tensor, node: str = "node", min_frames: int = 2) -> Layout:
    """Layout of a video latent; an image latent or an unknown rank raises LayoutError."""
    if x.ndim == 5:
        layout = Layout(VIDEO_5D, 2, x.shape[2], x.shape[0])
    elif x.ndim == 4:
        layout = Layout(FRAMES_IN_BATCH, 0, x.shape[0], 1)
    else:
        raise LayoutError(
            f"[{node}] expected a video latent, [frames, C, H, W] (AnimateDiff: frames in the batch) "
            f"or [B, C, T, H, W] (Wan and other native video models), got shape {tuple(x.shape)}.")
    if layout.frames < min_frames:
        where = "the batch size (frames)" if layout.kind == FRAMES_IN_BATCH else "the frame count T"
        raise LayoutError(
            f"[{node}] this is an image latent ({tuple(x.shape)}), but the node needs a video of at least "
            f"{min_frames} frames: raise {where} of the empty latent.")
    return layout


def to_btchw(x: torch.Tensor, layout: Layout) -> torch.Tensor:
    """View any video latent as [B, T, C, H, W]."""
    if layout.is_5d:
        return rearrange(x, "b c t h w -> b t c h w")
    return rearrange(x, "(b t) c h w -> b t c h w", b=1)


def from_btchw(x: torch.Tensor, layout: Layout) -> torch.Tensor:
    """Inverse of to_btchw."""
    if layout.is_5d:
        return rearrange(x, "b t c h w -> b c t h w")
    return rearrange(x, "b t c h w -> (b t) c h w")


def spectral_axes(layout: Layout) -> tuple[int, int, int]:
    """The (time, height, width) axes of a latent in its own layout, for FFTs."""
    return (2, 3, 4) if layout.is_5d else (0, 2, 3)
