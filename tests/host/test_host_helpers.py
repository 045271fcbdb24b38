import pytest
import torch

import comfy.model_management
import comfy.sample
from comfy_test_nodes import tiny_models


@pytest.fixture(scope="module")
def host():
    from training_free_video.nodes import host
    return host


def test_noise_is_comfyuis(host):
    lat = torch.zeros(5, 4, 8, 8)
    assert torch.equal(host.prepare_noise(lat, 42), comfy.sample.prepare_noise(lat, 42))


def test_video_layout_checks_model_and_latent(host):
    wan, ad = tiny_models.tiny_wan(), tiny_models.tiny_animatediff()
    assert host.video_layout(wan, torch.zeros(1, 16, 5, 8, 8), "N").is_5d
    assert not host.video_layout(ad, torch.zeros(6, 4, 8, 8), "N").is_5d
    with pytest.raises(host.NodeInputError, match=r"\[N\] this model makes 5D video latents"):
        host.video_layout(wan, torch.zeros(6, 16, 8, 8), "N")
    with pytest.raises(host.NodeInputError, match=r"\[N\] this model works on frames in the batch"):
        host.video_layout(ad, torch.zeros(1, 4, 5, 8, 8), "N")
    with pytest.raises(host.NodeInputError, match="16 channels but the model expects 4"):
        host.video_layout(ad, torch.zeros(6, 16, 8, 8), "N")
    with pytest.raises(host.NodeInputError, match="image latent"):
        host.video_layout(ad, torch.zeros(1, 4, 8, 8), "N")


def test_progress_honours_cancel(host):
    p = host.Progress(3)
    p.update()
    comfy.model_management.interrupt_current_processing(True)
    try:
        with pytest.raises(comfy.model_management.InterruptProcessingException):
            p.update()
    finally:
        comfy.model_management.interrupt_current_processing(False)


def test_sigma_max_comes_from_model_sampling(host):
    assert host.sigma_max(tiny_models.tiny_wan()) == pytest.approx(1.0)
    assert host.sigma_max(tiny_models.tiny_animatediff()) == pytest.approx(14.6146, rel=1e-3)
