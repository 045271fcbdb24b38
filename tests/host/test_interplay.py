"""Methods combined: FreeInit patches the model's whole sampling, so FIFO-Diffusion and NI-VSDS, which
drive their own loops through a guider, must run once (not once per FreeInit pass) on a FreeInit model."""
import logging

import pytest
import torch

from host_utils import count_model_calls


@pytest.fixture(scope="module")
def mods():
    from training_free_video.nodes import demo, fifo, freeinit, nivsds
    return demo, fifo, freeinit, nivsds


def with_freeinit(freeinit, model):
    return freeinit.FreeInitNode.execute(model, 3, "gaussian", 0.25, 0.25, 4, False, 0.98).result[0]


def test_fifo_on_a_freeinit_model_runs_once(mods, caplog):
    demo, fifo, freeinit, _ = mods
    cond = [[demo.toy_embedding("clouds"), {}]]
    latent = {"samples": torch.zeros(4, 4, 8, 8)}
    outs, calls = [], []
    for model in (demo.demo_model(), with_freeinit(freeinit, demo.demo_model())):
        counted, counter = count_model_calls(model)
        with caplog.at_level(logging.INFO, logger="training-free-video"):
            outs.append(fifo.fifo_sample(counted, cond, cond, latent, seed=1, num_frames=6, window_frames=4,
                                         partitions=1, cfg=1.0)["samples"])
        calls.append(counter["calls"])
    assert calls[0] == calls[1] and torch.equal(outs[0], outs[1])
    assert "FIFO-Diffusion runs its own loop" in caplog.text


def test_nivsds_on_a_freeinit_model_runs_once(mods):
    demo, _, freeinit, nivsds = mods
    cond = [[demo.toy_embedding("clouds"), {}]]
    static = nivsds.static_video(torch.randn(1, 4, 8, 8), 0, 8, "frames_in_batch")
    outs, calls = [], []
    for model in (demo.demo_model(), with_freeinit(freeinit, demo.demo_model())):
        counted, counter = count_model_calls(model)
        outs.append(nivsds.animate(counted, cond, cond, 2.0, static, 3, 10, "ddim_uniform", 0.6, [10.0], 1.0))
        calls.append(counter["calls"])
    assert calls[0] == calls[1] > 0 and torch.equal(outs[0], outs[1])
