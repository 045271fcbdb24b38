import pytest
import torch

from tfv_core.layout import FRAMES_IN_BATCH, VIDEO_5D, LayoutError, detect, from_btchw, spectral_axes, to_btchw


def test_detect_both_layouts():
    a = detect(torch.zeros(16, 4, 8, 8))
    assert (a.kind, a.frame_axis, a.frames, a.videos) == (FRAMES_IN_BATCH, 0, 16, 1)
    b = detect(torch.zeros(2, 16, 5, 8, 8))
    assert (b.kind, b.frame_axis, b.frames, b.videos) == (VIDEO_5D, 2, 5, 2)
    assert spectral_axes(a) == (0, 2, 3) and spectral_axes(b) == (2, 3, 4)


@pytest.mark.parametrize("shape", [(1, 4, 8, 8), (1, 16, 1, 8, 8)])
def test_image_latent_is_refused_with_a_hint(shape):
    with pytest.raises(LayoutError, match=r"\[MyNode\] this is an image latent.*at least 2 frames"):
        detect(torch.zeros(shape), "MyNode")


def test_unknown_rank_is_refused():
    with pytest.raises(LayoutError, match="expected a video latent"):
        detect(torch.zeros(4, 8, 8), "MyNode")


@pytest.mark.parametrize("shape", [(6, 4, 3, 5), (2, 16, 6, 3, 5)])
def test_btchw_round_trip_puts_frames_on_axis_1(shape):
    x = torch.randn(shape)
    lay = detect(x)
    v = to_btchw(x, lay)
    assert v.shape[1] == lay.frames and v.shape[2] == shape[1]
    frame2 = x[2] if not lay.is_5d else x[:, :, 2]
    assert torch.equal(v[:, 2] if lay.is_5d else v[0, 2], frame2)
    assert torch.equal(from_btchw(v, lay), x)
