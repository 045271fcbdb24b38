"""RAFT optical flow (Teed & Deng, ECCV 2020, arXiv 2003.12039) from torchvision's implementation, with weights the
user supplies: a torchvision RAFT state dict (.pth read with weights_only=True, or .safetensors). VBench measures
dynamic degree with RAFT; the flow also drives motion smoothness's frame interpolation here."""
import torch
import torch.nn.functional as F
from torchvision.models.optical_flow import raft_large, raft_small

from .reward_files import RewardFileError, load_strict, read_state_dict

ITERATIONS = 20              # VBench runs RAFT with 20 refinement iterations
MIN_SIZE = 128               # torchvision's correlation pyramid needs frames of at least 128 px
SOURCES = ("raft_large_C_T_SKHT_V2-ff5fadd5.pth (or any raft_large_*.pth / raft_small_*.pth) from torchvision's "
           "model zoo (torchvision.models.optical_flow), or a .safetensors file with the same keys")


class FlowFileError(ValueError):
    """A flow-model file that cannot be used; the message says which file and what to put there."""


def load_raft(path: str) -> torch.nn.Module:
    """torchvision's raft_large or raft_small (told apart by the first encoder layer's width), loaded strictly on
    the CPU in float32, in eval mode."""
    try:
        sd = read_state_dict(path)
    except RewardFileError as e:
        raise FlowFileError(str(e)) from None
    first = sd.get("feature_encoder.convnormrelu.0.weight")
    if first is None or first.ndim != 4:
        raise FlowFileError(f"{path} is not a torchvision RAFT state dict (no feature_encoder.convnormrelu.0.weight). "
                            f"Use {SOURCES}. The original princeton-vl RAFT checkpoints use other key names.")
    build = raft_small if first.shape[0] == 32 else raft_large
    with torch.device("meta"):
        model = build(weights=None)
    try:
        load_strict(model, {k: v.float() for k, v in sd.items()}, f"torchvision's {build.__name__}", path)
    except RewardFileError as e:
        raise FlowFileError(str(e)) from None
    return model.eval()


@torch.no_grad()
def raft_flow(model: torch.nn.Module, a: torch.Tensor, b: torch.Tensor, iterations: int = ITERATIONS) -> torch.Tensor:
    """Flow [N, 2, H, W] in pixels from frames a to b ([N, H, W, C] in 0..1): inputs scaled to -1..1 and padded
    (replicated edges) to multiples of 8 and at least MIN_SIZE, as torchvision's RAFT needs, then cropped back."""
    p = next(model.parameters())
    h, w = a.shape[1:3]
    pad = (0, max(MIN_SIZE, w + -w % 8) - w, 0, max(MIN_SIZE, h + -h % 8) - h)

    def prep(x):
        x = x[..., :3].movedim(-1, 1).to(p.device, p.dtype) * 2 - 1
        return F.pad(x, pad, mode="replicate")
    flow = model(prep(a), prep(b), num_flow_updates=iterations)[-1]
    return flow[..., :h, :w].float()
