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


def node_error(fn) -> str | None:
    """The message of a node error after its '[Node] ' prefix, or None if fn ran."""
    try:
        fn()
    except ValueError as e:
        return str(e).split("] ", 1)[1]
    return None


@pytest.mark.parametrize("latent", [torch.zeros(1, 16, 6, 4, 4), torch.zeros(6, 16, 4, 4)],
                         ids=["5d-16ch", "frames-16ch"])
def test_freeinit_and_fifo_agree_on_a_latent_of_another_family(latent):
    """ComfyUI's samplers give an empty latent the model's channel count before FreeInit (inside KSampler) sees
    it; FIFO samples on its own. Both must accept the same latents and say the same thing about the rest."""
    from host_utils import ksampler, result
    from training_free_video.nodes import demo, fifo, freeinit
    c = [[demo.toy_embedding("clouds"), {}]]
    model = demo.demo_model("frames_in_batch")  # 4 channels
    patched = result(freeinit.FreeInitNode.execute(model, 2, "gaussian", .25, .25, 4, False, .98))[0]
    by_freeinit = node_error(lambda: ksampler(patched, latent, c, c, steps=2))
    by_fifo = node_error(lambda: fifo.fifo_sample(model, c, c, {"samples": latent}, num_frames=6, window_frames=2,
                                                  partitions=1))
    assert by_freeinit == by_fifo
    assert by_fifo is None or "channels" not in by_fifo and "(1, 4," not in by_fifo  # no channel count of its own


def test_demo_model_reports_the_users_latent_shape_not_the_cfg_batch():
    """A 5D latent on the frames-in-batch demo model reaches the network with cond and uncond stacked."""
    from host_utils import ksampler
    from training_free_video.nodes import demo
    c = [[demo.toy_embedding("clouds"), {}]]
    with pytest.raises(ValueError, match=r"\[Demo Video Model\]") as e:
        ksampler(demo.demo_model("frames_in_batch"), torch.zeros(1, 4, 6, 4, 4), c, c, steps=2, cfg=3.0)
    assert "got (1, 4, 6, 4, 4)" in str(e.value)
