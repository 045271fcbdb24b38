"""Writes workflows/{demo_freeinit,freeinit_animatediff,freeinit_wan21}.json from live node definitions
(tests/workflow_builder.py), so their widget values always fit. Usage:
    .host/venv/bin/python tests/make_freeinit_workflows.py"""
import json
import sys
from pathlib import Path

import testenv

REPO = Path(__file__).resolve().parents[1]


def wire(g, links):
    for src, slot, dst, name in links:
        g.link(src, slot, dst, name)


def demo_freeinit(g):
    """The demo model with and without FreeInit: same seed, same sampler, side by side."""
    m = g.add("TFV_DemoModelLoader", pos=(50, 50))
    pos = g.add("TFV_DemoTextEncode", pos=(50, 330), text="sunset clouds")
    neg = g.add("TFV_DemoTextEncode", pos=(50, 560), text="")
    lat = g.add("EmptyLatentImage", pos=(50, 790), width=128, height=128, batch_size=16)
    fi = g.add("TFV_FreeInit", pos=(420, 520), iterations=3)
    rows = []
    for row, (title, model) in enumerate([("without FreeInit", m), ("with FreeInit (3 passes)", fi)]):
        y = 50 + 470 * row
        k = g.add("KSampler", title=f"KSampler {title}", pos=(800, y), seed=1, steps=20, cfg=2.5,
                  sampler_name="euler", scheduler="normal")
        dec = g.add("TFV_DemoDecode", pos=(1170, y))
        name = "demo_freeinit_on" if model == fi else "demo_freeinit_off"
        save = g.add("SaveAnimatedWEBP", pos=(1490, y), filename_prefix=name, fps=8.0)
        wire(g, [(model, 0, k, "model"), (pos, 0, k, "positive"), (neg, 0, k, "negative"),
                 (lat, 0, k, "latent_image"), (m, 1, dec, "decoder"), (k, 0, dec, "samples"), (dec, 0, save, "images")])
        rows.append((title, [k, dec, save]))
    g.link(m, 0, fi, "model")
    for title, ids in rows:
        g.group(title, ids)


def freeinit_animatediff(g):
    """AnimateDiff-Evolved (SD1.5 + v3 motion module) + FreeInit + the plain KSampler: the paper's set-up
    (DDIM, 25 steps, CFG 7.5, Gaussian filter d_s = d_t = 0.25)."""
    ckpt = g.add("CheckpointLoaderSimple", pos=(50, 50), ckpt_name="v1-5-pruned-emaonly.safetensors")
    ad = g.add("ADE_AnimateDiffLoaderGen1", pos=(420, 50), model_name="v3_sd15_mm.ckpt", beta_schedule="autoselect")
    fi = g.add("TFV_FreeInit", pos=(790, 50))
    pos = g.add("CLIPTextEncode", pos=(420, 330), text="a corgi running on the beach at sunset, highly detailed")
    neg = g.add("CLIPTextEncode", pos=(420, 560), text="blurry, low quality, watermark, flickering")
    lat = g.add("EmptyLatentImage", pos=(790, 420), width=512, height=512, batch_size=16)
    k = g.add("KSampler", pos=(1160, 50), seed=42, steps=25, cfg=7.5, sampler_name="ddim", scheduler="ddim_uniform")
    dec = g.add("VAEDecode", pos=(1530, 50))
    save = g.add("SaveAnimatedWEBP", pos=(1530, 250), filename_prefix="freeinit_animatediff", fps=8.0)
    wire(g, [(ckpt, 0, ad, "model"), (ad, 0, fi, "model"), (ckpt, 1, pos, "clip"), (ckpt, 1, neg, "clip"),
             (fi, 0, k, "model"), (pos, 0, k, "positive"), (neg, 0, k, "negative"), (lat, 0, k, "latent_image"),
             (k, 0, dec, "samples"), (ckpt, 2, dec, "vae"), (dec, 0, save, "images")])


def freeinit_wan21(g):
    """Wan 2.1 T2V 1.3B + FreeInit (a flow model: the re-noise level is flow_renoise_sigma) + KSampler."""
    unet = g.add("UNETLoader", pos=(50, 50), unet_name="wan2.1_t2v_1.3B_fp16.safetensors")
    shift = g.add("ModelSamplingSD3", pos=(420, 50), shift=8.0)
    fi = g.add("TFV_FreeInit", pos=(790, 50), iterations=3)
    clip = g.add("CLIPLoader", pos=(50, 330), clip_name="umt5_xxl_fp8_e4m3fn_scaled.safetensors", type="wan")
    pos = g.add("CLIPTextEncode", pos=(420, 330), text="a red fox trotting through fresh snow in a pine forest")
    neg = g.add("CLIPTextEncode", pos=(420, 560), text="static, blurry, low quality, flickering, distorted")
    lat = g.add("EmptyHunyuanLatentVideo", pos=(790, 420), width=832, height=480, length=33, batch_size=1)
    k = g.add("KSampler", pos=(1160, 50), seed=42, steps=30, cfg=6.0, sampler_name="uni_pc", scheduler="simple")
    vae = g.add("VAELoader", pos=(1160, 420), vae_name="wan_2.1_vae.safetensors")
    dec = g.add("VAEDecode", pos=(1530, 50))
    save = g.add("SaveAnimatedWEBP", pos=(1530, 250), filename_prefix="freeinit_wan21", fps=16.0)
    wire(g, [(unet, 0, shift, "model"), (shift, 0, fi, "model"), (clip, 0, pos, "clip"), (clip, 0, neg, "clip"),
             (fi, 0, k, "model"), (pos, 0, k, "positive"), (neg, 0, k, "negative"), (lat, 0, k, "latent_image"),
             (k, 0, dec, "samples"), (vae, 0, dec, "vae"), (dec, 0, save, "images")])


WORKFLOWS = {"demo_freeinit": demo_freeinit, "freeinit_animatediff": freeinit_animatediff,
             "freeinit_wan21": freeinit_wan21}


def main(names):
    testenv.load_host()
    from comfy_server import ComfyServer
    from workflow_builder import UIGraph
    from workflow_checks import external_nodes
    with ComfyServer() as srv:
        info = {**external_nodes(), **srv.get("/object_info")}
    for name in names or WORKFLOWS:
        g = UIGraph(info)
        WORKFLOWS[name](g)
        path = REPO / "workflows" / f"{name}.json"
        path.write_text(json.dumps(g.to_json(), indent=1) + "\n")
        print("wrote", path.relative_to(REPO))


if __name__ == "__main__":
    main(sys.argv[1:])
