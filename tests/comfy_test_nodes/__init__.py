"""Test-only ComfyUI nodes: loaders for the tiny real models, for server and workflow tests.
Loaded by the test servers through extra_model_paths; never shipped as part of the pack."""
from collections import Counter

from comfy_api.latest import ComfyExtension, io

from . import tiny_models

CALLS: Counter = Counter()  # model calls per (prompt id, id of the node that ran them)

CATEGORY = "training-free-video/testing"


class TinyModelLoader(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="TFVTest_TinyModelLoader", display_name="Tiny Test Model", category=CATEGORY,
            description="A tiny real ComfyUI model with seeded random weights.",
            inputs=[io.Combo.Input("kind", options=["wan21_5d_flow", "animatediff_eps", "animatediff_v"],
                                   tooltip="Which tiny model."),
                    io.Int.Input("seed", default=0, min=0, max=2**31, tooltip="Weight seed.")],
            outputs=[io.Model.Output()])

    @classmethod
    def execute(cls, kind, seed):
        if kind == "wan21_5d_flow":
            return io.NodeOutput(tiny_models.tiny_wan(seed))
        return io.NodeOutput(tiny_models.tiny_animatediff(seed, "eps" if kind == "animatediff_eps" else "v_prediction"))


class TinyConditioning(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="TFVTest_TinyConditioning", display_name="Tiny Test Conditioning", category=CATEGORY,
            description="Seeded random cross-attention context for the tiny models.",
            inputs=[io.Combo.Input("kind", options=["wan21_5d_flow", "animatediff"], tooltip="Which tiny model."),
                    io.Int.Input("seed", default=0, min=0, max=2**31, tooltip="Context seed.")],
            outputs=[io.Conditioning.Output()])

    @classmethod
    def execute(cls, kind, seed):
        dim = tiny_models.WAN_TEXT_DIM if kind == "wan21_5d_flow" else tiny_models.UNET_CONTEXT_DIM
        return io.NodeOutput(tiny_models.conditioning(dim, seed))


class LatentToImage(io.ComfyNode):
    """Stands in for VAEDecode in workflow tests: a fixed channel-to-RGB projection, upsampled 8x."""

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="TFVTest_LatentToImage", display_name="Tiny Test Decode", category=CATEGORY,
            description="Latent (either layout) to RGB frames without a VAE.",
            inputs=[io.Latent.Input("samples")], outputs=[io.Image.Output()])

    @classmethod
    def execute(cls, samples):
        import torch
        import torch.nn.functional as F
        z = samples["samples"].float()
        if z.ndim == 5:
            z = z.movedim(2, 1).flatten(0, 1)
        g = torch.Generator().manual_seed(0)
        rgb = torch.einsum("nchw,cd->ndhw", z, torch.randn(z.shape[1], 3, generator=g) / z.shape[1] ** 0.5)
        rgb = F.interpolate(rgb, scale_factor=8, mode="nearest")
        return io.NodeOutput(torch.sigmoid(rgb).movedim(1, -1))


class CountCalls(io.ComfyNode):
    """MODEL -> MODEL that counts the network's calls per running node (sampler, FIFO, NI-VSDS...) and prompt, so
    workflow tests can check each method's cost; `run` changes per run so nothing downstream is cached."""

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="TFVTest_CountCalls", display_name="Count Model Calls", category=CATEGORY,
            description="Counts APPLY_MODEL calls per executing node; read them at /tfv_test/calls/<prompt_id>.",
            inputs=[io.Model.Input("model"), io.Int.Input("run", default=0, min=0, max=2**31)],
            outputs=[io.Model.Output()])

    @classmethod
    def execute(cls, model, run):
        import comfy.patcher_extension as pe
        from comfy_execution.utils import get_executing_context

        def count(executor, *args, **kwargs):
            ctx = get_executing_context()
            if ctx is not None:
                CALLS[(ctx.prompt_id, ctx.node_id)] += 1
            return executor(*args, **kwargs)
        m = model.clone()
        m.remove_wrappers_with_key(pe.WrappersMP.APPLY_MODEL, "tfv_test_count_calls")  # chained: count once
        m.add_wrapper_with_key(pe.WrappersMP.APPLY_MODEL, "tfv_test_count_calls", count)
        return io.NodeOutput(m)


def add_routes():
    from aiohttp import web
    from server import PromptServer

    @PromptServer.instance.routes.get("/tfv_test/calls/{prompt_id}")
    async def calls(request):
        pid = request.match_info["prompt_id"]
        return web.json_response({node: n for (p, node), n in CALLS.items() if p == pid})


class TestExtension(ComfyExtension):
    async def get_node_list(self):
        return [TinyModelLoader, TinyConditioning, LatentToImage, CountCalls]


async def comfy_entrypoint():
    add_routes()
    return TestExtension()
