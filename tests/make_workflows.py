"""Writes example workflows (workflows/<name>.json) from live node definitions (and the fixture of
external packs' nodes), so their widget values always fit. Usage: .host/venv/bin/python tests/make_workflows.py"""
import json
import sys
from pathlib import Path

import testenv

REPO = Path(__file__).resolve().parents[1]


def demo_ksampler(g):
    """Plain KSampler video on the demo model, in both latent layouts."""
    for row, (layout, par, latent) in enumerate([("frames_in_batch", "eps", "EmptyLatentImage"),
                                                  ("video_5d", "flow", "EmptyHunyuanLatentVideo")]):
        y = 50 + 420 * row
        m = g.add("TFV_DemoModelLoader", pos=(50, y), layout=layout, parameterization=par)
        pos = g.add("TFV_DemoTextEncode", pos=(50, y + 230), text="sunset clouds")
        neg = g.add("TFV_DemoTextEncode", pos=(420, y + 230), text="")
        if latent == "EmptyLatentImage":
            lat = g.add(latent, pos=(420, y), width=128, height=128, batch_size=16)
        else:
            lat = g.add(latent, pos=(420, y), width=128, height=128, length=61, batch_size=1)
        k = g.add("KSampler", pos=(790, y), seed=1, steps=20, cfg=2.5, sampler_name="euler", scheduler="normal")
        dec = g.add("TFV_DemoDecode", pos=(1160, y))
        save = g.add("SaveAnimatedWEBP", pos=(1480, y), filename_prefix=f"demo_ksampler_{layout}", fps=8.0)
        for src, slot, dst, name in [(m, 0, k, "model"), (pos, 0, k, "positive"), (neg, 0, k, "negative"),
                                     (lat, 0, k, "latent_image"), (m, 1, dec, "decoder"), (k, 0, dec, "samples"),
                                     (dec, 0, save, "images")]:
            g.link(src, slot, dst, name)
        g.group(f"{layout} / {par}", [m, lat, k, dec, save, pos, neg])


def wire(g, *links):
    for src, slot, dst, name in links:
        g.link(src, slot, dst, name)


NIVSDS_PAPER = dict(steps=25, cfg=7.5, scheduler="ddim_uniform", fraction=0.6, step_sizes="10, 10, 10, 1",
                    max_weight=1.0)


def i4vgen_animatediff(g):
    """I4VGen on AnimateDiff-Evolved with the paper's settings: 16 candidates from the image checkpoint,
    ImageReward ranking, static video, NI-VSDS, regeneration (p_re = 1: full denoise), save."""
    prompt, negative = "a corgi running on the beach at sunset, highly detailed", "blurry, low quality, watermark"
    ckpt = g.add("CheckpointLoaderSimple", pos=(50, 50), ckpt_name="v1-5-pruned-emaonly.safetensors")
    pos = g.add("CLIPTextEncode", pos=(50, 250), text=prompt)
    neg = g.add("CLIPTextEncode", pos=(50, 500), text=negative)
    empty = g.add("EmptyLatentImage", pos=(420, 50), width=512, height=512, batch_size=16)
    cand = g.add("KSampler", title="Candidates (image model, no motion module)", pos=(420, 250), seed=0, steps=25,
                 cfg=7.5, sampler_name="ddim", scheduler="ddim_uniform")
    dec1 = g.add("VAEDecode", pos=(790, 50))
    reward = g.add("TFV_RewardModelLoader", pos=(790, 200), model_name="ImageReward")
    rank = g.add("TFV_RankByReward", pos=(790, 400), size=(420, 420), prompt=prompt, top_k=1, batch_size=16)
    static = g.add("TFV_StaticVideo", pos=(1240, 50), frames=16, layout="frames_in_batch")
    ad = g.add("ADE_AnimateDiffLoaderGen1", title="Video model (AnimateDiff-Evolved)", pos=(420, 600),
               model_name="mm_sd_v15_v2.ckpt", beta_schedule="sqrt_linear (AnimateDiff)")
    vsds = g.add("TFV_NIVSDS", pos=(1240, 250), seed=1, **NIVSDS_PAPER)
    regen = g.add("KSampler", title="Regeneration (p_re = 1)", pos=(1610, 50), seed=2, steps=25, cfg=7.5,
                  sampler_name="ddim", scheduler="ddim_uniform", denoise=1.0)
    dec2 = g.add("VAEDecode", pos=(1610, 400))
    save = g.add("SaveAnimatedWEBP", pos=(1980, 50), filename_prefix="i4vgen_animatediff", fps=8.0)
    wire(g, (ckpt, 0, cand, "model"), (ckpt, 1, pos, "clip"), (ckpt, 1, neg, "clip"), (pos, 0, cand, "positive"),
         (neg, 0, cand, "negative"), (empty, 0, cand, "latent_image"), (cand, 0, dec1, "samples"),
         (ckpt, 2, dec1, "vae"), (reward, 0, rank, "reward_model"), (dec1, 0, rank, "images"),
         (cand, 0, rank, "latents"), (rank, 1, static, "samples"), (ckpt, 0, ad, "model"),
         (ad, 0, vsds, "model"), (pos, 0, vsds, "positive"), (neg, 0, vsds, "negative"),
         (static, 0, vsds, "latent"), (ad, 0, regen, "model"), (pos, 0, regen, "positive"),
         (neg, 0, regen, "negative"), (vsds, 0, regen, "latent_image"), (regen, 0, dec2, "samples"),
         (ckpt, 2, dec2, "vae"), (dec2, 0, save, "images"))


def demo_i4vgen(g):
    """I4VGen on the demo model: 8 candidates from an 'image model' (no temporal correlation), the demo
    reward, static video, NI-VSDS, regeneration; and the static video regenerated without NI-VSDS beside it."""
    image = g.add("TFV_DemoModelLoader", title="Image model (frames independent)", pos=(50, 50),
                  temporal_correlation=0.0)
    video = g.add("TFV_DemoModelLoader", title="Video model", pos=(50, 300))
    pos = g.add("TFV_DemoTextEncode", pos=(50, 550), text="sunset clouds")
    neg = g.add("TFV_DemoTextEncode", pos=(50, 750), text="")
    empty = g.add("EmptyLatentImage", pos=(420, 50), width=128, height=128, batch_size=8)
    cand = g.add("KSampler", title="Candidates", pos=(420, 250), seed=0, steps=15, cfg=2.5)
    dec1 = g.add("TFV_DemoDecode", pos=(790, 50))
    reward = g.add("TFV_RewardModelLoader", pos=(790, 200))
    rank = g.add("TFV_RankByReward", pos=(790, 400), size=(420, 420), prompt="sunset clouds", top_k=1, batch_size=8)
    static = g.add("TFV_StaticVideo", pos=(1240, 50), frames=16, layout="frames_in_batch")
    vsds = g.add("TFV_NIVSDS", pos=(1240, 250), seed=1, **{**NIVSDS_PAPER, "cfg": 2.5})
    regen = g.add("KSampler", title="Regeneration (p_re = 1)", pos=(1610, 50), seed=2, steps=20, cfg=2.5,
                  sampler_name="ddim", scheduler="ddim_uniform", denoise=1.0)
    plain = g.add("KSampler", title="Static video regenerated without NI-VSDS", pos=(1610, 450), seed=2,
                  steps=20, cfg=2.5, sampler_name="ddim", scheduler="ddim_uniform", denoise=1.0)
    dec2 = g.add("TFV_DemoDecode", pos=(1980, 50))
    dec3 = g.add("TFV_DemoDecode", pos=(1980, 450))
    save = g.add("SaveAnimatedWEBP", pos=(2300, 50), filename_prefix="demo_i4vgen", fps=8.0)
    save_plain = g.add("SaveAnimatedWEBP", pos=(2300, 450), filename_prefix="demo_i4vgen_without_nivsds", fps=8.0)
    wire(g, (image, 0, cand, "model"), (pos, 0, cand, "positive"), (neg, 0, cand, "negative"),
         (empty, 0, cand, "latent_image"), (image, 1, dec1, "decoder"), (cand, 0, dec1, "samples"),
         (reward, 0, rank, "reward_model"), (dec1, 0, rank, "images"), (cand, 0, rank, "latents"),
         (rank, 1, static, "samples"), (video, 0, vsds, "model"), (pos, 0, vsds, "positive"),
         (neg, 0, vsds, "negative"), (static, 0, vsds, "latent"), (video, 0, regen, "model"),
         (pos, 0, regen, "positive"), (neg, 0, regen, "negative"), (vsds, 0, regen, "latent_image"),
         (video, 0, plain, "model"), (pos, 0, plain, "positive"), (neg, 0, plain, "negative"),
         (static, 0, plain, "latent_image"), (video, 1, dec2, "decoder"), (regen, 0, dec2, "samples"),
         (video, 1, dec3, "decoder"), (plain, 0, dec3, "samples"), (dec2, 0, save, "images"),
         (dec3, 0, save_plain, "images"))


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
        wire(g, *[(model, 0, k, "model"), (pos, 0, k, "positive"), (neg, 0, k, "negative"),
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
    wire(g, *[(ckpt, 0, ad, "model"), (ad, 0, fi, "model"), (ckpt, 1, pos, "clip"), (ckpt, 1, neg, "clip"),
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
    wire(g, *[(unet, 0, shift, "model"), (shift, 0, fi, "model"), (clip, 0, pos, "clip"), (clip, 0, neg, "clip"),
             (fi, 0, k, "model"), (pos, 0, k, "positive"), (neg, 0, k, "negative"), (lat, 0, k, "latent_image"),
             (k, 0, dec, "samples"), (vae, 0, dec, "vae"), (dec, 0, save, "images")])


def demo_learned(g):
    """The learned shapes-world video model (trained weights that ship with the pack): 8 frames with the plain
    KSampler, the same with FreeInit, and 32 frames from its 8-frame window with FIFO-Diffusion."""
    m = g.add("TFV_LearnedModelLoader", pos=(50, 50), model="video_unet")
    pos = g.add("TFV_LearnedTextEncode", pos=(50, 330), text="red circle moving right")
    neg = g.add("TFV_LearnedTextEncode", pos=(50, 560), text="")
    lat = g.add("EmptyLatentImage", pos=(50, 790), width=64, height=64, batch_size=8)
    fi = g.add("TFV_FreeInit", pos=(420, 520), iterations=3)
    wire(g, (m, 0, fi, "model"), (m, 1, pos, "text_encoder"), (m, 1, neg, "text_encoder"))
    for row, (title, model) in enumerate([("KSampler, 8 frames", m), ("with FreeInit (3 passes)", fi)]):
        y = 50 + 470 * row
        k = g.add("KSampler", title=title, pos=(800, y), seed=1, steps=10, cfg=5.0, sampler_name="ddim",
                  scheduler="ddim_uniform")
        dec = g.add("TFV_DemoDecode", pos=(1170, y))
        save = g.add("SaveAnimatedWEBP", pos=(1490, y), filename_prefix=f"demo_learned_{'freeinit' if row else 'plain'}",
                     fps=4.0)
        wire(g, (model, 0, k, "model"), (pos, 0, k, "positive"), (neg, 0, k, "negative"), (lat, 0, k, "latent_image"),
             (m, 2, dec, "decoder"), (k, 0, dec, "samples"), (dec, 0, save, "images"))
        g.group(title, [k, dec, save])
    y = 50 + 470 * 2
    fifo = g.add("TFV_FIFOSampler", title="FIFO-Diffusion, 32 frames", pos=(800, y), seed=1, num_frames=32,
                 window_frames=8, partitions=2, cfg=5.0)
    dec = g.add("TFV_DemoDecode", pos=(1170, y))
    save = g.add("SaveAnimatedWEBP", pos=(1490, y), filename_prefix="demo_learned_fifo", fps=4.0)
    wire(g, (m, 0, fifo, "model"), (pos, 0, fifo, "positive"), (neg, 0, fifo, "negative"), (lat, 0, fifo, "latent"),
         (m, 2, dec, "decoder"), (fifo, 0, dec, "samples"), (dec, 0, save, "images"))
    g.group("FIFO-Diffusion, 32 frames from the 8-frame window", [fifo, dec, save])


WORKFLOWS = {"demo_ksampler": demo_ksampler, "i4vgen_animatediff": i4vgen_animatediff, "demo_i4vgen": demo_i4vgen,
             "demo_freeinit": demo_freeinit, "freeinit_animatediff": freeinit_animatediff,
             "freeinit_wan21": freeinit_wan21, "demo_learned": demo_learned}


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
