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


WORKFLOWS = {"demo_ksampler": demo_ksampler, "i4vgen_animatediff": i4vgen_animatediff, "demo_i4vgen": demo_i4vgen,
             "demo_freeinit": demo_freeinit, "freeinit_animatediff": freeinit_animatediff,
             "freeinit_wan21": freeinit_wan21}


# --- Video Metrics comparisons: each method on the demo model, with and without, same seed -------------------------

def add_comparison(g, name, off, on, labels, x, y=50):
    """Two Video Metrics nodes (demo aesthetic reward) on the IMAGE outputs `off` and `on`, a Compare Videos node,
    and animated WebPs of both videos. Returns the Compare Videos node."""
    reward = g.add("TFV_RewardModelLoader", title="Aesthetic model (demo; LAION predictor for real videos)",
                   pos=(x, y))
    nodes = []
    for row, (src, label, tag) in enumerate([(off, labels[0], "off"), (on, labels[1], "on")]):
        m = g.add("TFV_VideoMetrics", title=f"Video Metrics: {label}", pos=(x + 370, y + 330 * row), size=(340, 300),
                  label=label, filename_prefix=f"metrics/{name}_{tag}")
        save = g.add("SaveAnimatedWEBP", pos=(x, y + 200 + 330 * row), filename_prefix=f"{name}_{tag}", fps=8.0)
        wire(g, (src, 0, m, "images"), (reward, 0, m, "aesthetic_model"), (src, 0, save, "images"))
        nodes.append(m)
    cmp = g.add("TFV_CompareVideos", pos=(x + 740, y), size=(640, 560))
    wire(g, (nodes[0], 0, cmp, "metrics_1"), (nodes[1], 0, cmp, "metrics_2"))
    g.group(f"VBench metrics: {labels[0]} vs {labels[1]}", [reward, *nodes, cmp])
    return cmp


def demo_metrics_freeinit(g):
    """FreeInit on the demo model: the same seed with and without FreeInit, measured and compared."""
    m = g.add("TFV_DemoModelLoader", pos=(50, 50))
    pos = g.add("TFV_DemoTextEncode", pos=(50, 330), text="sunset clouds")
    neg = g.add("TFV_DemoTextEncode", pos=(50, 560), text="")
    lat = g.add("EmptyLatentImage", pos=(50, 790), width=128, height=128, batch_size=16)
    fi = g.add("TFV_FreeInit", pos=(420, 520), iterations=3)
    decoded = []
    for row, (title, model) in enumerate([("without FreeInit", m), ("with FreeInit (3 passes)", fi)]):
        k = g.add("KSampler", title=f"KSampler {title}", pos=(800, 50 + 470 * row), seed=1, steps=20, cfg=2.5,
                  sampler_name="euler", scheduler="normal")
        dec = g.add("TFV_DemoDecode", pos=(1170, 50 + 470 * row))
        wire(g, (model, 0, k, "model"), (pos, 0, k, "positive"), (neg, 0, k, "negative"),
             (lat, 0, k, "latent_image"), (m, 1, dec, "decoder"), (k, 0, dec, "samples"))
        decoded.append(dec)
    g.link(m, 0, fi, "model")
    add_comparison(g, "demo_metrics_freeinit", *decoded, ("without FreeInit", "with FreeInit"), 1500)


def demo_metrics_fifo(g):
    """FIFO-Diffusion on the demo model against the naive way to make a long video from a clip model: three
    independent 16-frame clips joined. Both 48 frames, measured and compared."""
    m = g.add("TFV_DemoModelLoader", pos=(50, 50), temporal_correlation=0.95)
    pos = g.add("TFV_DemoTextEncode", pos=(50, 330), text="sunset clouds")
    neg = g.add("TFV_DemoTextEncode", pos=(50, 560), text="")
    window = g.add("EmptyLatentImage", title="Window (f = 8)", pos=(420, 50), width=64, height=64, batch_size=8)
    fifo = g.add("TFV_FIFOSampler", pos=(790, 50), size=(340, 420), seed=7, num_frames=48, window_frames=8,
                 partitions=2, windows_per_call=4, cfg=4.0)
    dec_fifo = g.add("TFV_DemoDecode", pos=(1160, 50))
    wire(g, (m, 0, fifo, "model"), (pos, 0, fifo, "positive"), (neg, 0, fifo, "negative"),
         (window, 0, fifo, "latent"), (m, 1, dec_fifo, "decoder"), (fifo, 0, dec_fifo, "samples"))
    clip = g.add("EmptyLatentImage", title="One clip (16 frames)", pos=(420, 560), width=64, height=64,
                 batch_size=16)
    joined = None
    for i in range(3):
        k = g.add("KSampler", title=f"Clip {i + 1} (seed {7 + i})", pos=(790, 520 + 300 * i), seed=7 + i, steps=20,
                  cfg=4.0, sampler_name="euler", scheduler="normal")
        wire(g, (m, 0, k, "model"), (pos, 0, k, "positive"), (neg, 0, k, "negative"), (clip, 0, k, "latent_image"))
        if joined is None:
            joined = k
        else:
            batch = g.add("LatentBatch", title="Join clips", pos=(1160, 520 + 300 * i))
            wire(g, (joined, 0, batch, "samples1"), (k, 0, batch, "samples2"))
            joined = batch
    dec_clips = g.add("TFV_DemoDecode", pos=(1160, 300))
    wire(g, (m, 1, dec_clips, "decoder"), (joined, 0, dec_clips, "samples"))
    add_comparison(g, "demo_metrics_fifo", dec_clips, dec_fifo, ("3 clips joined", "FIFO-Diffusion"), 1500)


def demo_metrics_ivmixed(g):
    """IV-Mixed on the demo models: the video model alone (CFG) against IV-Mixed with the image model, same noise."""
    video = g.add("TFV_DemoModelLoader", title="Video model (demo)", pos=(50, 50))
    image = g.add("TFV_DemoModelLoader", title="Image model (demo: no temporal correlation)", pos=(50, 300),
                  temporal_correlation=0.0)
    pos = g.add("TFV_DemoTextEncode", pos=(50, 550), text="sunset clouds")
    neg = g.add("TFV_DemoTextEncode", pos=(50, 750), text="")
    lat = g.add("EmptyLatentImage", pos=(420, 50), width=64, height=64, batch_size=16)
    noise = g.add("RandomNoise", pos=(420, 250), noise_seed=42)
    sampler = g.add("KSamplerSelect", pos=(420, 400), sampler_name="euler")
    sigmas = g.add("BasicScheduler", pos=(420, 520), scheduler="normal", steps=20, denoise=1.0)
    ivm = g.add("TFV_IVMixedGuider", pos=(790, 50), size=(340, 380), cfg=2.0, omega_image=1.0, omega_video=1.0,
                start_percent=0.0, end_percent=1.0)
    cfg = g.add("CFGGuider", title="CFG guider (video model only)", pos=(790, 480), cfg=2.0)
    wire(g, (video, 0, sigmas, "model"), (video, 0, ivm, "video_model"), (pos, 0, ivm, "video_positive"),
         (neg, 0, ivm, "video_negative"), (image, 0, ivm, "image_model"), (pos, 0, ivm, "image_positive"),
         (neg, 0, ivm, "image_negative"), (video, 0, cfg, "model"), (pos, 0, cfg, "positive"),
         (neg, 0, cfg, "negative"))
    decoded = []
    for row, guider in enumerate((cfg, ivm)):
        s = g.add("SamplerCustomAdvanced", pos=(1160, 50 + 430 * row))
        dec = g.add("TFV_DemoDecode", pos=(1160, 300 + 430 * row))
        wire(g, (noise, 0, s, "noise"), (guider, 0, s, "guider"), (sampler, 0, s, "sampler"),
             (sigmas, 0, s, "sigmas"), (lat, 0, s, "latent_image"), (video, 1, dec, "decoder"), (s, 0, dec, "samples"))
        decoded.append(dec)
    add_comparison(g, "demo_metrics_ivmixed", *decoded, ("video model alone", "IV-Mixed"), 1500)


def demo_metrics_i4vgen(g):
    """I4VGen on the demo models (candidates, demo reward, static video, NI-VSDS, regeneration) against plain
    text-to-video sampling with the video model, same regeneration seed."""
    image = g.add("TFV_DemoModelLoader", title="Image model (frames independent)", pos=(50, 50),
                  temporal_correlation=0.0)
    video = g.add("TFV_DemoModelLoader", title="Video model", pos=(50, 300))
    pos = g.add("TFV_DemoTextEncode", pos=(50, 550), text="sunset clouds")
    neg = g.add("TFV_DemoTextEncode", pos=(50, 750), text="")
    empty = g.add("EmptyLatentImage", title="Candidates", pos=(420, 50), width=64, height=64, batch_size=8)
    cand = g.add("KSampler", title="Candidates", pos=(420, 250), seed=0, steps=15, cfg=2.5)
    dec1 = g.add("TFV_DemoDecode", pos=(790, 50))
    reward = g.add("TFV_RewardModelLoader", title="Reward (demo; ImageReward for real videos)", pos=(790, 200))
    rank = g.add("TFV_RankByReward", pos=(790, 400), size=(420, 420), prompt="sunset clouds", top_k=1, batch_size=8)
    static = g.add("TFV_StaticVideo", pos=(1240, 50), frames=16, layout="frames_in_batch")
    vsds = g.add("TFV_NIVSDS", pos=(1240, 250), seed=1, **{**NIVSDS_PAPER, "cfg": 2.5})
    regen = g.add("KSampler", title="Regeneration (p_re = 1)", pos=(1610, 50), seed=2, steps=20, cfg=2.5,
                  sampler_name="ddim", scheduler="ddim_uniform", denoise=1.0)
    frames = g.add("EmptyLatentImage", title="Plain text-to-video", pos=(1240, 700), width=64, height=64,
                   batch_size=16)
    plain = g.add("KSampler", title="Plain text-to-video (same seed)", pos=(1610, 450), seed=2, steps=20, cfg=2.5,
                  sampler_name="ddim", scheduler="ddim_uniform", denoise=1.0)
    dec_on = g.add("TFV_DemoDecode", pos=(1610, 850))
    dec_off = g.add("TFV_DemoDecode", pos=(1610, 1000))
    wire(g, (image, 0, cand, "model"), (pos, 0, cand, "positive"), (neg, 0, cand, "negative"),
         (empty, 0, cand, "latent_image"), (image, 1, dec1, "decoder"), (cand, 0, dec1, "samples"),
         (reward, 0, rank, "reward_model"), (dec1, 0, rank, "images"), (cand, 0, rank, "latents"),
         (rank, 1, static, "samples"), (video, 0, vsds, "model"), (pos, 0, vsds, "positive"),
         (neg, 0, vsds, "negative"), (static, 0, vsds, "latent"), (video, 0, regen, "model"),
         (pos, 0, regen, "positive"), (neg, 0, regen, "negative"), (vsds, 0, regen, "latent_image"),
         (video, 0, plain, "model"), (pos, 0, plain, "positive"), (neg, 0, plain, "negative"),
         (frames, 0, plain, "latent_image"), (video, 1, dec_on, "decoder"), (regen, 0, dec_on, "samples"),
         (video, 1, dec_off, "decoder"), (plain, 0, dec_off, "samples"))
    add_comparison(g, "demo_metrics_i4vgen", dec_off, dec_on, ("plain text-to-video", "I4VGen"), 1980)


WORKFLOWS.update({"demo_metrics_freeinit": demo_metrics_freeinit, "demo_metrics_fifo": demo_metrics_fifo,
                  "demo_metrics_ivmixed": demo_metrics_ivmixed, "demo_metrics_i4vgen": demo_metrics_i4vgen})


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
