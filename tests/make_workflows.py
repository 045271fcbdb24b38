"""Writes the example workflows (workflows/<title>.json) from live node definitions (and the fixture of
external packs' nodes), so their widget values always fit. The frontend's template browser shows a
custom node pack's workflow by its file name (title and description) and `<file name>.jpg` beside it as
the thumbnail (tests/make_thumbnails.py), so file names are titles and the demos sort first.

Usage: .host/venv/bin/python tests/make_workflows.py [key ...]"""
import json
import sys
from pathlib import Path

import testenv

REPO = Path(__file__).resolve().parents[1]
OUT = {"width": 360, "height": 520}  # output node: a preview about 340 px tall

WAN_REPO = "https://huggingface.co/Comfy-Org/Wan_2.1_ComfyUI_repackaged/resolve/main/split_files"
MODELS = {  # file name: (folder under ComfyUI/models, source URL)
    "v1-5-pruned-emaonly.safetensors": (
        "checkpoints", "https://huggingface.co/Comfy-Org/stable-diffusion-v1-5-archive/resolve/main/"
                       "v1-5-pruned-emaonly.safetensors"),
    "v3_sd15_mm.ckpt": ("animatediff_models", "https://huggingface.co/guoyww/animatediff/resolve/main/v3_sd15_mm.ckpt"),
    "mm_sd_v15_v2.ckpt": ("animatediff_models",
                          "https://huggingface.co/guoyww/animatediff/resolve/main/mm_sd_v15_v2.ckpt"),
    "wan2.1_t2v_1.3B_fp16.safetensors": (
        "diffusion_models", f"{WAN_REPO}/diffusion_models/wan2.1_t2v_1.3B_fp16.safetensors"),
    "umt5_xxl_fp8_e4m3fn_scaled.safetensors": (
        "text_encoders", f"{WAN_REPO}/text_encoders/umt5_xxl_fp8_e4m3fn_scaled.safetensors"),
    "wan_2.1_vae.safetensors": ("vae", f"{WAN_REPO}/vae/wan_2.1_vae.safetensors"),
}
# Files without one direct download link: named in the note with their source page only.
PAGES = {
    "realisticVisionV51_v51VAE.safetensors": (
        "checkpoints", "https://civitai.com/models/4201 (Realistic Vision V5.1, the file with VAE; "
                       "any SD1.5 checkpoint runs)"),
    "ImageReward/": ("reward_models", "`ImageReward.pt` and `med_config.json` from "
                                      "https://huggingface.co/THUDM/ImageReward, `vocab.txt` from "
                                      "https://huggingface.co/google-bert/bert-base-uncased"),
}
ADE = {"cnr_id": "comfyui-animatediff-evolved", "aux_id": "Kosinkadink/ComfyUI-AnimateDiff-Evolved"}
ADE_TITLE = "AnimateDiff Loader (pack: ComfyUI-AnimateDiff-Evolved)"
ADE_NEEDED = ("**Needs the node pack ComfyUI-AnimateDiff-Evolved** (Kosinkadink): ComfyUI-Manager → "
              "Install Missing Custom Nodes, or clone https://github.com/Kosinkadink/ComfyUI-AnimateDiff-Evolved "
              "into `custom_nodes`.")
DEMO_MODELS = "**Model files:** none. The demo model is analytic (no weights) and runs on a CPU in seconds."


def model_props(*names) -> dict:
    """The frontend's model metadata for a loader node: the missing-models dialog offers the download."""
    return {"models": [{"name": n, "url": MODELS[n][1], "directory": MODELS[n][0]} for n in names]}


def files_list(*names) -> str:
    rows = []
    for n in names:
        folder, src = MODELS[n] if n in MODELS else PAGES[n]
        rows.append(f"- `{n}` → `ComfyUI/models/{folder}/`  \n  from {src}")
    return "**Model files** (exact names, folder, source):\n" + "\n".join(rows)


def note_text(title, shows, change, settings, files, extra=""):
    parts = [f"## {title}", f"**What it shows.** {shows}", f"**Change first.** {change}",
             f"**Settings.** {settings}", files]
    return "\n\n".join(parts + ([extra] if extra else []))


def wire(g, *links):
    for src, slot, dst, name in links:
        g.link(src, slot, dst, name)


def layout(g, note, stages, x0=50, y0=50, rows=None):
    """The note on the left, then stages (title, columns) left to right; rows: stage lists one under another."""
    x = g.size(note)[0] + x0 + 40
    g.nodes[note - 1]["pos"] = [x0, y0 + 30]
    y = y0
    for row in rows or [stages]:
        right, bottom = x, y
        for title, columns in row:
            right, b = g.stage(title, columns, right, y)
            right += 40
            bottom = max(bottom, b)
        y = bottom + 40


# ---------------------------------------------------------------------------------------------- demos
def demo_ksampler(g):
    note = g.note(note_text(
        "Demo 1: plain KSampler video, both latent layouts",
        "The core KSampler makes a video on the weight-free demo model, once with frames in the batch "
        "`[F, C, H, W]` (like AnimateDiff, EPS) and once as a 5D latent `[B, C, T, H, W]` (like Wan, flow). "
        "The baseline the other demos change.",
        "the prompt of Demo Text Encode (each word pulls the colour its own way) and the loader's "
        "temporal_correlation (higher = slower motion).",
        "20 Euler steps, CFG 2.5, 16 frames (frames in batch) / 61 frames (5D), 128 × 128.", DEMO_MODELS))
    rows = []
    for layout_, par, latent in [("frames_in_batch", "eps", "EmptyLatentImage"),
                                 ("video_5d", "flow", "EmptyHunyuanLatentVideo")]:
        m = g.add("TFV_DemoModelLoader", layout=layout_, parameterization=par)
        pos = g.add("TFV_DemoTextEncode", title="Prompt", text="sunset clouds")
        neg = g.add("TFV_DemoTextEncode", title="Negative prompt", text="")
        if latent == "EmptyLatentImage":
            lat = g.add(latent, width=128, height=128, batch_size=16)
        else:
            lat = g.add(latent, width=128, height=128, length=61, batch_size=1)
        k = g.add("KSampler", seed=1, steps=20, cfg=2.5, sampler_name="euler", scheduler="normal")
        dec = g.add("TFV_DemoDecode")
        save = g.add("SaveAnimatedWEBP", size=(OUT["width"], OUT["height"]),
                     filename_prefix=f"demo_ksampler_{layout_}", fps=8.0)
        wire(g, (m, 0, k, "model"), (pos, 0, k, "positive"), (neg, 0, k, "negative"), (lat, 0, k, "latent_image"),
             (m, 1, dec, "decoder"), (k, 0, dec, "samples"), (dec, 0, save, "images"))
        rows.append([(f"Model and prompts ({layout_}, {par})", [[m, lat], [pos, neg]]),
                     ("Sample and decode", [[k, dec]]), ("Output", [[save]])])
    layout(g, note, None, rows=rows)


def demo_freeinit(g):
    note = g.note(note_text(
        "Demo 2: FreeInit on and off, same seed",
        "Two KSamplers with the same seed and settings; the lower one samples through FreeInit (3 passes). "
        "FreeInit re-noises each result with the same noise and keeps its low spatio-temporal frequencies: "
        "the clouds drift more steadily.",
        "FreeInit's iterations (1 = off) and d_s / d_t (the node draws the filter).",
        "Paper defaults on the demo model: Gaussian filter, d_s = d_t = 0.25; 3 passes (paper: 5); 20 Euler "
        "steps, CFG 2.5, 16 frames, 128 × 128.", DEMO_MODELS))
    m = g.add("TFV_DemoModelLoader")
    pos = g.add("TFV_DemoTextEncode", title="Prompt", text="sunset clouds")
    neg = g.add("TFV_DemoTextEncode", title="Negative prompt", text="")
    lat = g.add("EmptyLatentImage", width=128, height=128, batch_size=16)
    fi = g.add("TFV_FreeInit", iterations=3)
    rows = [[("Model, prompts, latent", [[m, lat], [pos, neg]]), ("FreeInit", [[fi]])]]
    for title, model, name in [("without FreeInit", m, "demo_freeinit_off"),
                               ("with FreeInit (3 passes)", fi, "demo_freeinit_on")]:
        k = g.add("KSampler", title=f"KSampler {title}", seed=1, steps=20, cfg=2.5, sampler_name="euler",
                  scheduler="normal")
        dec = g.add("TFV_DemoDecode")
        save = g.add("SaveAnimatedWEBP", size=(OUT["width"], OUT["height"]), filename_prefix=name, fps=8.0)
        wire(g, (model, 0, k, "model"), (pos, 0, k, "positive"), (neg, 0, k, "negative"),
             (lat, 0, k, "latent_image"), (m, 1, dec, "decoder"), (k, 0, dec, "samples"), (dec, 0, save, "images"))
        rows[0].append((f"Video {title}", [[k, dec], [save]]))
    g.link(m, 0, fi, "model")
    layout(g, note, None, rows=[rows[0][:2], rows[0][2:]])


def demo_fifo(g):
    note = g.note(note_text(
        "Demo 3: FIFO-Diffusion, 48 frames from an 8-frame window",
        "FIFO-Diffusion turns a short-clip model into a video of any length in constant memory: a queue of "
        "frames at rising noise levels, one frame leaves clean per step. The prompt changes at frame 24 "
        "through a FIFO Prompt Schedule.",
        "num_frames (any length), and the schedule's from_frame.",
        "window_frames f = 8, partitions n = 2 (so f·n = 16 noise levels), lookahead on, CFG 4, eta 1 (DDIM "
        "with full noise, as the paper), 64 × 64.", DEMO_MODELS))
    m = g.add("TFV_DemoModelLoader", temporal_correlation=0.95)
    pos = g.add("TFV_DemoTextEncode", title="Prompt (frames 0-23)", text="sunset clouds")
    neg = g.add("TFV_DemoTextEncode", title="Negative prompt", text="")
    later = g.add("TFV_DemoTextEncode", title="Prompt from frame 24", text="stormy night clouds")
    sched = g.add("TFV_FIFOPromptSchedule", from_frame_1=24, from_frame_2=32, from_frame_3=64, from_frame_4=96)
    lat = g.add("EmptyLatentImage", width=64, height=64, batch_size=8)
    fifo = g.add("TFV_FIFOSampler", size=(340, 520), seed=7, num_frames=48, window_frames=8, partitions=2,
                 lookahead=True, windows_per_call=4, cfg=4.0, eta=1.0, scheduler="normal", start="generate")
    dec = g.add("TFV_DemoDecode")
    save = g.add("SaveAnimatedWEBP", size=(OUT["width"], OUT["height"]), filename_prefix="tfv_fifo_demo", fps=12.0, lossless=False)
    wire(g, (m, 0, fifo, "model"), (pos, 0, fifo, "positive"), (neg, 0, fifo, "negative"),
         (lat, 0, fifo, "latent"), (later, 0, sched, "conditioning_1"), (sched, 0, fifo, "prompt_schedule"),
         (m, 1, dec, "decoder"), (fifo, 0, dec, "samples"), (dec, 0, save, "images"))
    layout(g, note, [("Model and window", [[m, lat]]), ("Prompts by frame", [[pos, neg], [later, sched]]),
                     ("FIFO-Diffusion", [[fifo, dec]]), ("Output: 48 frames", [[save]])])


def demo_ivmixed(g):
    note = g.note(note_text(
        "Demo 4: IV-Mixed Sampler",
        "SamplerCustomAdvanced with the IV-Mixed guider: at every step an image model (per-frame detail, "
        "here a demo model without temporal correlation) and the video model (coherence) take turns "
        "denoising and inverting the latent.",
        "omega_image / omega_video (guidance of each model in the zigzag; lower them first if it looks "
        "over-saturated), then the interval start_percent / end_percent.",
        "Variant IVIV, official AnimateDiff timestep labels (the paper's headline setting), CFG 2, ω = 1 for "
        "both models, 20 Euler steps (Euler/DDIM reproduce the paper's algorithm exactly; most other samplers "
        "work, heun-like and UniPC are refused), 16 frames, 64 × 64.", DEMO_MODELS))
    video = g.add("TFV_DemoModelLoader", title="Video model (demo)")
    image = g.add("TFV_DemoModelLoader", title="Image model (demo: frames independent)", temporal_correlation=0.0)
    pos = g.add("TFV_DemoTextEncode", title="Prompt", text="sunset clouds")
    neg = g.add("TFV_DemoTextEncode", title="Negative prompt", text="")
    lat = g.add("EmptyLatentImage", width=64, height=64, batch_size=16)
    guider = g.add("TFV_IVMixedGuider", cfg=2.0, omega_image=1.0, omega_video=1.0)
    noise = g.add("RandomNoise", noise_seed=42)
    sampler = g.add("KSamplerSelect", sampler_name="euler")
    sched = g.add("BasicScheduler", scheduler="normal", steps=20, denoise=1.0)
    sca = g.add("SamplerCustomAdvanced")
    dec = g.add("TFV_DemoDecode")
    save = g.add("SaveAnimatedWEBP", size=(OUT["width"], OUT["height"]), filename_prefix="tfv_ivmixed", fps=8.0, lossless=False)
    wire(g, (video, 0, guider, "video_model"), (pos, 0, guider, "video_positive"), (neg, 0, guider, "video_negative"),
         (image, 0, guider, "image_model"), (pos, 0, guider, "image_positive"), (neg, 0, guider, "image_negative"),
         (video, 0, sched, "model"), (noise, 0, sca, "noise"), (guider, 0, sca, "guider"), (sampler, 0, sca, "sampler"),
         (sched, 0, sca, "sigmas"), (lat, 0, sca, "latent_image"), (sca, 0, dec, "samples"),
         (video, 1, dec, "decoder"), (dec, 0, save, "images"))
    layout(g, note, [("Models and prompts", [[video, image], [pos, neg, lat]]), ("IV-Mixed guider", [[guider]]),
                     ("Sampler", [[noise, sampler, sched], [sca, dec]]), ("Output", [[save]])])


NIVSDS_PAPER = dict(steps=25, cfg=7.5, scheduler="ddim_uniform", fraction=0.6, step_sizes="10, 10, 10, 1",
                    max_weight=1.0)


def demo_i4vgen(g):
    note = g.note(note_text(
        "Demo 5: I4VGen, with and without NI-VSDS",
        "I4VGen's pipeline on demo models: 8 candidate images from an 'image model', ranked by the "
        "weight-free demo reward; the best becomes a static video, NI-VSDS animates it, a KSampler "
        "regenerates it. Below, the same static video regenerated without NI-VSDS.",
        "top_k and the candidates' batch_size; NI-VSDS's step_sizes.",
        "NI-VSDS as in the paper (25 DDIM levels, fraction 0.6 = 16 optimised levels, step sizes 10, 10, "
        "10, 1, max_weight 1), CFG 2.5 for the demo model; regeneration with denoise 1 (p_re = 1), 16 frames.",
        DEMO_MODELS))
    image = g.add("TFV_DemoModelLoader", title="Image model (frames independent)", temporal_correlation=0.0)
    video = g.add("TFV_DemoModelLoader", title="Video model")
    pos = g.add("TFV_DemoTextEncode", title="Prompt", text="sunset clouds")
    neg = g.add("TFV_DemoTextEncode", title="Negative prompt", text="")
    empty = g.add("EmptyLatentImage", width=128, height=128, batch_size=8)
    cand = g.add("KSampler", title="Candidates", seed=0, steps=15, cfg=2.5)
    dec1 = g.add("TFV_DemoDecode")
    reward = g.add("TFV_RewardModelLoader")
    rank = g.add("TFV_RankByReward", size=(420, 420), prompt="sunset clouds", top_k=1, batch_size=8)
    static = g.add("TFV_StaticVideo", frames=16, layout="frames_in_batch")
    vsds = g.add("TFV_NIVSDS", seed=1, **{**NIVSDS_PAPER, "cfg": 2.5})
    regen = g.add("KSampler", title="Regeneration (p_re = 1)", seed=2, steps=20, cfg=2.5, sampler_name="ddim",
                  scheduler="ddim_uniform", denoise=1.0)
    plain = g.add("KSampler", title="Regenerated without NI-VSDS", seed=2, steps=20, cfg=2.5,
                  sampler_name="ddim", scheduler="ddim_uniform", denoise=1.0)
    dec2 = g.add("TFV_DemoDecode")
    dec3 = g.add("TFV_DemoDecode")
    save = g.add("SaveAnimatedWEBP", size=(OUT["width"], OUT["height"]), filename_prefix="demo_i4vgen", fps=8.0)
    save_plain = g.add("SaveAnimatedWEBP", size=(OUT["width"], OUT["height"]),
                       filename_prefix="demo_i4vgen_without_nivsds", fps=8.0)
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
    layout(g, note, None, rows=[
        [("Models and prompts", [[image, video], [pos, neg]]), ("1. Candidates", [[empty, cand], [dec1, reward]]),
         ("2. Rank by reward", [[rank]])],
        [("3. Static video and NI-VSDS", [[static, vsds]]), ("4. Regenerate", [[regen, dec2], [plain, dec3]]),
         ("Output: with NI-VSDS (left) and without", [[save], [save_plain]])]])


# ------------------------------------------------------------------------------ real models (downloads)
def freeinit_animatediff(g):
    note = g.note(note_text(
        "FreeInit on AnimateDiff (SD1.5), paper settings",
        "AnimateDiff-Evolved's v3 motion module on SD1.5, sampled by the plain KSampler through FreeInit: "
        "5 passes re-noised with the same noise, keeping the low spatio-temporal frequencies.",
        "the prompt; then FreeInit's iterations (2-3 gets most of the gain at less cost).",
        "As the paper: DDIM (ddim_uniform) 25 steps, CFG 7.5, 16 frames 512 × 512, Gaussian filter "
        "d_s = d_t = 0.25, 5 passes. Cost: 5 samplings.",
        files_list("v1-5-pruned-emaonly.safetensors", "v3_sd15_mm.ckpt"), ADE_NEEDED))
    ckpt = g.add("CheckpointLoaderSimple", ckpt_name="v1-5-pruned-emaonly.safetensors",
                 properties=model_props("v1-5-pruned-emaonly.safetensors"))
    ad = g.add("ADE_AnimateDiffLoaderGen1", title=ADE_TITLE, model_name="v3_sd15_mm.ckpt", beta_schedule="autoselect",
               properties={**ADE, **model_props("v3_sd15_mm.ckpt")})
    fi = g.add("TFV_FreeInit")
    pos = g.add("CLIPTextEncode", title="Prompt", text="a corgi running on the beach at sunset, highly detailed")
    neg = g.add("CLIPTextEncode", title="Negative prompt", text="blurry, low quality, watermark, flickering")
    lat = g.add("EmptyLatentImage", width=512, height=512, batch_size=16)
    k = g.add("KSampler", seed=42, steps=25, cfg=7.5, sampler_name="ddim", scheduler="ddim_uniform")
    dec = g.add("VAEDecode")
    save = g.add("SaveAnimatedWEBP", size=(OUT["width"], OUT["height"]), filename_prefix="freeinit_animatediff",
                 fps=8.0)
    wire(g, (ckpt, 0, ad, "model"), (ad, 0, fi, "model"), (ckpt, 1, pos, "clip"), (ckpt, 1, neg, "clip"),
         (fi, 0, k, "model"), (pos, 0, k, "positive"), (neg, 0, k, "negative"), (lat, 0, k, "latent_image"),
         (k, 0, dec, "samples"), (ckpt, 2, dec, "vae"), (dec, 0, save, "images"))
    layout(g, note, [("Models", [[ckpt, ad]]), ("Prompts and latent", [[pos, neg, lat]]), ("FreeInit", [[fi]]),
                     ("Sample and decode", [[k, dec]]), ("Output", [[save]])])


WAN_FILES = ("wan2.1_t2v_1.3B_fp16.safetensors", "umt5_xxl_fp8_e4m3fn_scaled.safetensors", "wan_2.1_vae.safetensors")


def wan_loaders(g):
    unet = g.add("UNETLoader", unet_name=WAN_FILES[0], properties=model_props(WAN_FILES[0]))
    clip = g.add("CLIPLoader", clip_name=WAN_FILES[1], type="wan", properties=model_props(WAN_FILES[1]))
    vae = g.add("VAELoader", vae_name=WAN_FILES[2], properties=model_props(WAN_FILES[2]))
    return unet, clip, vae


def freeinit_wan21(g):
    note = g.note(note_text(
        "FreeInit on Wan 2.1 T2V 1.3B",
        "Wan 2.1 text-to-video (a 5D flow model) sampled by the KSampler through FreeInit, 3 passes.",
        "the prompt; flow_renoise_sigma (0.98: lower lets the previous pass steer more, but strong low "
        "frequencies grow each pass).",
        "Not a paper setting: FreeInit's paper is on AnimateDiff-like models. Gaussian d_s = d_t = 0.25, "
        "3 passes; Wan's usual sampling: uni_pc / simple 30 steps, CFG 6, shift 8, 33 frames 832 × 480.",
        files_list(*WAN_FILES)))
    unet, clip, vae = wan_loaders(g)
    shift = g.add("ModelSamplingSD3", shift=8.0)
    fi = g.add("TFV_FreeInit", iterations=3)
    pos = g.add("CLIPTextEncode", title="Prompt", text="a red fox trotting through fresh snow in a pine forest")
    neg = g.add("CLIPTextEncode", title="Negative prompt", text="static, blurry, low quality, flickering, distorted")
    lat = g.add("EmptyHunyuanLatentVideo", width=832, height=480, length=33, batch_size=1)
    k = g.add("KSampler", seed=42, steps=30, cfg=6.0, sampler_name="uni_pc", scheduler="simple")
    dec = g.add("VAEDecode")
    save = g.add("SaveAnimatedWEBP", size=(OUT["width"], OUT["height"]), filename_prefix="freeinit_wan21", fps=16.0)
    wire(g, (unet, 0, shift, "model"), (shift, 0, fi, "model"), (clip, 0, pos, "clip"), (clip, 0, neg, "clip"),
         (fi, 0, k, "model"), (pos, 0, k, "positive"), (neg, 0, k, "negative"), (lat, 0, k, "latent_image"),
         (k, 0, dec, "samples"), (vae, 0, dec, "vae"), (dec, 0, save, "images"))
    layout(g, note, [("Wan 2.1 files", [[unet, clip, vae]]), ("Prompts and latent", [[pos, neg, lat]]),
                     ("FreeInit", [[shift, fi]]), ("Sample and decode", [[k, dec]]), ("Output", [[save]])])


def fifo_animatediff(g):
    note = g.note(note_text(
        "FIFO-Diffusion on AnimateDiff (SD1.5), 320 frames",
        "320 frames from AnimateDiff's 16-frame motion module in constant memory, with the prompt changing "
        "at frames 80, 160 and 240 (FIFO Prompt Schedule: prompts by absolute frame index).",
        "num_frames, and the prompts of the schedule.",
        "As the paper: window f = 16, partitions n = 4 (64 noise levels), lookahead on, eta 1; CFG 7.5, "
        "512 × 512. No context options in AnimateDiff-Evolved: FIFO makes the windows. Cost: 2n = 8 windows "
        "per output frame.",
        files_list("v1-5-pruned-emaonly.safetensors", "mm_sd_v15_v2.ckpt"), ADE_NEEDED))
    ckpt = g.add("CheckpointLoaderSimple", ckpt_name="v1-5-pruned-emaonly.safetensors",
                 properties=model_props("v1-5-pruned-emaonly.safetensors"))
    ad = g.add("ADE_AnimateDiffLoaderGen1", title=ADE_TITLE, model_name="mm_sd_v15_v2.ckpt", beta_schedule="autoselect",
               properties={**ADE, **model_props("mm_sd_v15_v2.ckpt")})
    texts = ["a sailing boat on the open ocean at sunrise, golden light, gentle waves, highly detailed, 4k",
             "a sailing boat on the open ocean at noon, bright blue sky, sparkling water, highly detailed, 4k",
             "a sailing boat on the open ocean at sunset, orange and purple sky, highly detailed, 4k",
             "a sailing boat on the open ocean at night under a full moon, starry sky, highly detailed, 4k"]
    pos = g.add("CLIPTextEncode", title="Prompt (frames 0-79)", text=texts[0])
    neg = g.add("CLIPTextEncode", title="Negative prompt", text="blurry, low quality, distorted, watermark, text")
    later = [g.add("CLIPTextEncode", title=f"Prompt from frame {f}", text=t) for f, t in zip((80, 160, 240), texts[1:])]
    sched = g.add("TFV_FIFOPromptSchedule", from_frame_1=80, from_frame_2=160, from_frame_3=240, from_frame_4=96)
    lat = g.add("EmptyLatentImage", width=512, height=512, batch_size=16)
    fifo = g.add("TFV_FIFOSampler", size=(340, 520), seed=321, num_frames=320, window_frames=16, partitions=4,
                 lookahead=True, windows_per_call=1, cfg=7.5, eta=1.0, scheduler="normal", start="generate")
    dec = g.add("VAEDecode")
    save = g.add("SaveAnimatedWEBP", size=(OUT["width"], OUT["height"]), filename_prefix="fifo_animatediff", fps=8.0,
                 quality=85, lossless=False)
    wire(g, (ckpt, 0, ad, "model"), (ckpt, 1, pos, "clip"), (ckpt, 1, neg, "clip"),
         *[(ckpt, 1, c, "clip") for c in later], (later[0], 0, sched, "conditioning_1"),
         (later[1], 0, sched, "conditioning_2"), (later[2], 0, sched, "conditioning_3"),
         (ad, 0, fifo, "model"), (pos, 0, fifo, "positive"), (neg, 0, fifo, "negative"), (lat, 0, fifo, "latent"),
         (sched, 0, fifo, "prompt_schedule"), (fifo, 0, dec, "samples"), (ckpt, 2, dec, "vae"), (dec, 0, save, "images"))
    layout(g, note, [("Models", [[ckpt, ad, lat]]), ("Prompts by frame", [[pos, neg, later[0]], [later[1], later[2], sched]]),
                     ("FIFO-Diffusion", [[fifo, dec]]), ("Output: 320 frames", [[save]])])


def fifo_wan21(g):
    note = g.note(note_text(
        "FIFO-Diffusion on Wan 2.1 T2V 1.3B (experimental)",
        "FIFO-Diffusion on a 5D flow model with one timestep per latent frame: 60 latent frames (237 video "
        "frames) from Wan's 21-latent-frame window. The causal Wan VAE decodes the whole latent at once.",
        "num_frames (latent frames; video frames = 4·(n−1)+1).",
        "Experimental, not in the paper: window f = 21 (Wan's 81-frame clip), partitions n = 4, lookahead on, "
        "eta 1, CFG 5, simple schedule (Wan's own shift), 832 × 480.", files_list(*WAN_FILES)))
    unet, clip, vae = wan_loaders(g)
    pos = g.add("CLIPTextEncode", title="Prompt",
                text="a red fox trotting through a snowy birch forest, cinematic, soft morning light")
    neg = g.add("CLIPTextEncode", title="Negative prompt", text="blurry, low quality, static, distorted, watermark, text")
    lat = g.add("EmptyHunyuanLatentVideo", width=832, height=480, length=81, batch_size=1)
    fifo = g.add("TFV_FIFOSampler", title="FIFO-Diffusion Sampler (experimental on Wan)", size=(340, 520), seed=42,
                 num_frames=60, window_frames=21, partitions=4, lookahead=True, windows_per_call=1, cfg=5.0, eta=1.0,
                 scheduler="simple", start="generate")
    dec = g.add("VAEDecode")
    save = g.add("SaveAnimatedWEBP", size=(OUT["width"], OUT["height"]), filename_prefix="fifo_wan21", fps=16.0,
                 quality=85, lossless=False)
    wire(g, (clip, 0, pos, "clip"), (clip, 0, neg, "clip"), (unet, 0, fifo, "model"),
         (pos, 0, fifo, "positive"), (neg, 0, fifo, "negative"), (lat, 0, fifo, "latent"), (fifo, 0, dec, "samples"),
         (vae, 0, dec, "vae"), (dec, 0, save, "images"))
    layout(g, note, [("Wan 2.1 files", [[unet, clip, vae]]), ("Prompts and window", [[pos, neg, lat]]),
                     ("FIFO-Diffusion", [[fifo, dec]]), ("Output", [[save]])])


def ivmixed_animatediff(g):
    rv = "realisticVisionV51_v51VAE.safetensors"
    note = g.note(note_text(
        "IV-Mixed Sampler on AnimateDiff with an SD1.5 image model",
        "SamplerCustomAdvanced with the IV-Mixed guider: the SD1.5 image model adds per-frame detail, the "
        "AnimateDiff video model (v3 motion module on Realistic Vision 5.1) keeps the motion coherent.",
        "omega_image / omega_video (lower them first if it looks over-saturated), then the interval.",
        "As the paper for AnimateDiff: variant IVIV with the official AnimateDiff timestep labels, CFG 7.5, "
        "ω = 4 for both models, DDIM 50 steps, the whole schedule mixed, 16 frames 512 × 512. Cost: 2 image + "
        "3 video evaluations per step.",
        files_list(rv, "v3_sd15_mm.ckpt", "v1-5-pruned-emaonly.safetensors"), ADE_NEEDED))
    base = g.add("CheckpointLoaderSimple", title="Video base (Realistic Vision 5.1)", ckpt_name=rv)
    ad = g.add("ADE_AnimateDiffLoaderGen1", title=ADE_TITLE, model_name="v3_sd15_mm.ckpt",
               beta_schedule="use existing", properties={**ADE, **model_props("v3_sd15_mm.ckpt")})
    img = g.add("CheckpointLoaderSimple", title="Image model (SD1.5)", ckpt_name="v1-5-pruned-emaonly.safetensors",
                properties=model_props("v1-5-pruned-emaonly.safetensors"))
    pos = g.add("CLIPTextEncode", title="Prompt", text="a corgi running on the beach at sunset, highly detailed")
    neg = g.add("CLIPTextEncode", title="Negative prompt", text="blurry, low quality, watermark")
    lat = g.add("EmptyLatentImage", width=512, height=512, batch_size=16)
    guider = g.add("TFV_IVMixedGuider", cfg=7.5, omega_image=4.0, omega_video=4.0)
    noise = g.add("RandomNoise", noise_seed=42)
    sampler = g.add("KSamplerSelect", sampler_name="ddim")
    sched = g.add("BasicScheduler", scheduler="simple", steps=50, denoise=1.0)
    sca = g.add("SamplerCustomAdvanced")
    dec = g.add("VAEDecode")
    save = g.add("SaveAnimatedWEBP", size=(OUT["width"], OUT["height"]), filename_prefix="tfv_ivmixed_animatediff",
                 fps=8.0, quality=90, lossless=False)
    wire(g, (base, 0, ad, "model"), (base, 1, pos, "clip"), (base, 1, neg, "clip"), (ad, 0, guider, "video_model"),
         (pos, 0, guider, "video_positive"), (neg, 0, guider, "video_negative"), (img, 0, guider, "image_model"),
         (pos, 0, guider, "image_positive"), (neg, 0, guider, "image_negative"), (ad, 0, sched, "model"),
         (noise, 0, sca, "noise"), (guider, 0, sca, "guider"), (sampler, 0, sca, "sampler"), (sched, 0, sca, "sigmas"),
         (lat, 0, sca, "latent_image"), (sca, 0, dec, "samples"), (base, 2, dec, "vae"), (dec, 0, save, "images"))
    layout(g, note, [("Models", [[base, ad, img]]), ("Prompts and latent", [[pos, neg, lat]]),
                     ("IV-Mixed guider", [[guider]]), ("Sampler", [[noise, sampler, sched], [sca, dec]]),
                     ("Output", [[save]])])


def i4vgen_animatediff(g):
    prompt, negative = "a corgi running on the beach at sunset, highly detailed", "blurry, low quality, watermark"
    note = g.note(note_text(
        "I4VGen on AnimateDiff (SD1.5) with ImageReward, paper settings",
        "I4VGen: 16 candidate images from SD1.5 alone, ranked by ImageReward; the best is repeated into a "
        "static video, NI-VSDS animates it with the AnimateDiff video model, a KSampler regenerates it.",
        "the prompt (set it in Rank by Reward too: ImageReward scores image and prompt together).",
        "As the paper: 16 candidates, ImageReward v1.0, top 1; NI-VSDS 25 DDIM levels, fraction 0.6, step "
        "sizes 10, 10, 10, 1 (max_weight 1 stops a step at the denoised video); regeneration DDIM 25 steps, "
        "CFG 7.5, denoise 1 (p_re = 1), 16 frames 512 × 512.",
        files_list("v1-5-pruned-emaonly.safetensors", "mm_sd_v15_v2.ckpt", "ImageReward/"),
        ADE_NEEDED + " Reward files go into a sub-folder of `models/reward_models/` (here `ImageReward/`); "
                     "the loader's help page lists the files of every reward model."))
    ckpt = g.add("CheckpointLoaderSimple", ckpt_name="v1-5-pruned-emaonly.safetensors",
                 properties=model_props("v1-5-pruned-emaonly.safetensors"))
    pos = g.add("CLIPTextEncode", title="Prompt", text=prompt)
    neg = g.add("CLIPTextEncode", title="Negative prompt", text=negative)
    empty = g.add("EmptyLatentImage", width=512, height=512, batch_size=16)
    cand = g.add("KSampler", title="Candidates (image model, no motion module)", seed=0, steps=25, cfg=7.5,
                 sampler_name="ddim", scheduler="ddim_uniform")
    dec1 = g.add("VAEDecode")
    reward = g.add("TFV_RewardModelLoader", model_name="ImageReward")
    rank = g.add("TFV_RankByReward", size=(420, 420), prompt=prompt, top_k=1, batch_size=16)
    static = g.add("TFV_StaticVideo", frames=16, layout="frames_in_batch")
    ad = g.add("ADE_AnimateDiffLoaderGen1", title=ADE_TITLE, model_name="mm_sd_v15_v2.ckpt",
               beta_schedule="sqrt_linear (AnimateDiff)", properties={**ADE, **model_props("mm_sd_v15_v2.ckpt")})
    vsds = g.add("TFV_NIVSDS", seed=1, **NIVSDS_PAPER)
    regen = g.add("KSampler", title="Regeneration (p_re = 1)", seed=2, steps=25, cfg=7.5, sampler_name="ddim",
                  scheduler="ddim_uniform", denoise=1.0)
    dec2 = g.add("VAEDecode")
    save = g.add("SaveAnimatedWEBP", size=(OUT["width"], OUT["height"]), filename_prefix="i4vgen_animatediff", fps=8.0)
    wire(g, (ckpt, 0, cand, "model"), (ckpt, 1, pos, "clip"), (ckpt, 1, neg, "clip"), (pos, 0, cand, "positive"),
         (neg, 0, cand, "negative"), (empty, 0, cand, "latent_image"), (cand, 0, dec1, "samples"),
         (ckpt, 2, dec1, "vae"), (reward, 0, rank, "reward_model"), (dec1, 0, rank, "images"),
         (cand, 0, rank, "latents"), (rank, 1, static, "samples"), (ckpt, 0, ad, "model"),
         (ad, 0, vsds, "model"), (pos, 0, vsds, "positive"), (neg, 0, vsds, "negative"),
         (static, 0, vsds, "latent"), (ad, 0, regen, "model"), (pos, 0, regen, "positive"),
         (neg, 0, regen, "negative"), (vsds, 0, regen, "latent_image"), (regen, 0, dec2, "samples"),
         (ckpt, 2, dec2, "vae"), (dec2, 0, save, "images"))
    layout(g, note, None, rows=[
        [("Image model and prompts", [[ckpt, pos, neg]]), ("1. Candidates", [[empty, cand], [dec1, reward]]),
         ("2. Rank by reward", [[rank]])],
        [("3. Static video, NI-VSDS", [[ad, static], [vsds]]), ("4. Regenerate", [[regen, dec2]]),
         ("Output", [[save]])]])


def demo_learned(g):
    note = g.note(note_text(
        "Demo X: the learned video models (shapes world)",
        "Small video models trained on a synthetic world of coloured shapes that move and bounce (weights ship "
        "with the pack, 3 MB): 8 frames with the plain KSampler, the same seed with FreeInit, and 32 frames from "
        "the 8-frame window with FIFO-Diffusion.",
        "the prompt (colour, shape, direction: e.g. \"blue square moving up\"), then FreeInit's iterations.",
        "DDIM (ddim_uniform) 10 steps, CFG 5; FreeInit 3 passes; FIFO f = 8, n = 2. The models are weak "
        "(blobs of the prompted colour rather than clean shapes): they are instruments, see the README's "
        "quality table.", "**Model files:** none to download: the learned weights are in `nodes/learned/`."))
    m = g.add("TFV_LearnedModelLoader", model="video_unet")
    pos = g.add("TFV_LearnedTextEncode", title="Prompt", text="red circle moving right")
    neg = g.add("TFV_LearnedTextEncode", title="Negative prompt", text="")
    lat = g.add("EmptyLatentImage", width=64, height=64, batch_size=8)
    fi = g.add("TFV_FreeInit", iterations=3)
    wire(g, (m, 0, fi, "model"), (m, 1, pos, "text_encoder"), (m, 1, neg, "text_encoder"))
    runs = []
    for title, model, name in [("KSampler, 8 frames", m, "plain"), ("KSampler with FreeInit (3 passes)", fi,
                                                                      "freeinit")]:
        k = g.add("KSampler", title=title, seed=1, steps=10, cfg=5.0, sampler_name="ddim", scheduler="ddim_uniform")
        dec = g.add("TFV_DemoDecode")
        save = g.add("SaveAnimatedWEBP", title=f"Video: {title}", size=(OUT["width"], OUT["height"]),
                     filename_prefix=f"demo_learned_{name}", fps=4.0)
        wire(g, (model, 0, k, "model"), (pos, 0, k, "positive"), (neg, 0, k, "negative"), (lat, 0, k, "latent_image"),
             (m, 2, dec, "decoder"), (k, 0, dec, "samples"), (dec, 0, save, "images"))
        runs.append((title, [[k, dec], [save]]))
    fifo = g.add("TFV_FIFOSampler", title="FIFO-Diffusion, 32 frames", size=(340, 520), seed=1, num_frames=32,
                 window_frames=8, partitions=2, cfg=5.0)
    dec = g.add("TFV_DemoDecode")
    save = g.add("SaveAnimatedWEBP", title="Video: FIFO-Diffusion, 32 frames", size=(OUT["width"], OUT["height"]),
                 filename_prefix="demo_learned_fifo", fps=4.0)
    wire(g, (m, 0, fifo, "model"), (pos, 0, fifo, "positive"), (neg, 0, fifo, "negative"), (lat, 0, fifo, "latent"),
         (m, 2, dec, "decoder"), (fifo, 0, dec, "samples"), (dec, 0, save, "images"))
    layout(g, note, None, rows=[[("Learned model and prompts", [[m, lat], [pos, neg]]), ("FreeInit", [[fi]]),
                                 runs[0]], [runs[1], ("FIFO-Diffusion, 32 frames", [[fifo, dec], [save]])]])


# ------------------------------------------------------------- Video Metrics: each method on and off, measured
METRICS_NOTE = ("**Reading the table.** Video Metrics computes VBench's formulas per video; Compare Videos shows "
                "both side by side with the difference. On the demo model the metrics use weight-free proxies "
                "(named in each result); connect CLIP_VISION, a reward model's CLIP or RAFT weights for VBench's own "
                "backbones.")


def comparison(g, name, off, on, labels):
    """Video Metrics on both decoded videos (demo aesthetic reward), Compare Videos, and both videos saved.
    Returns the stages (title, columns) to lay out."""
    reward = g.add("TFV_RewardModelLoader", title="Aesthetic model (demo; LAION predictor for real videos)")
    metrics, saves = [], []
    for src, label, tag in [(off, labels[0], "off"), (on, labels[1], "on")]:
        m = g.add("TFV_VideoMetrics", title=f"Video Metrics: {label}", size=(340, 300), label=label,
                  filename_prefix=f"metrics/{name}_{tag}")
        save = g.add("SaveAnimatedWEBP", title=f"Video: {label}", size=(OUT["width"], OUT["height"] + 180),
                     filename_prefix=f"{name}_{tag}", fps=8.0)  # 520 px once left only 159 px of preview
        wire(g, (src, 0, m, "images"), (reward, 0, m, "aesthetic_model"), (src, 0, save, "images"))
        metrics.append(m)
        saves.append(save)
    cmp = g.add("TFV_CompareVideos", size=(640, 560))
    wire(g, (metrics[0], 0, cmp, "metrics_1"), (metrics[1], 0, cmp, "metrics_2"))
    return [("Videos", [saves]), ("VBench metrics", [[reward], [metrics[0]], [metrics[1]]]),
            (f"{labels[0]} vs {labels[1]}", [[cmp]])]


def demo_metrics_freeinit(g):
    note = g.note(note_text(
        "Demo 6: FreeInit measured with Video Metrics",
        "The same seed with and without FreeInit (3 passes), each video measured with VBench's formulas and the "
        "two compared: FreeInit raises subject consistency and lowers flicker on the demo model.",
        "FreeInit's iterations, then put Video Metrics after your own VAE Decode.",
        "FreeInit's paper defaults (Gaussian, d_s = d_t = 0.25), 3 passes; 20 Euler steps, CFG 2.5, 16 frames.",
        DEMO_MODELS, METRICS_NOTE))
    m = g.add("TFV_DemoModelLoader")
    pos = g.add("TFV_DemoTextEncode", title="Prompt", text="sunset clouds")
    neg = g.add("TFV_DemoTextEncode", title="Negative prompt", text="")
    lat = g.add("EmptyLatentImage", width=128, height=128, batch_size=16)
    fi = g.add("TFV_FreeInit", iterations=3)
    g.link(m, 0, fi, "model")
    decoded, samplers = [], []
    for title, model in [("without FreeInit", m), ("with FreeInit (3 passes)", fi)]:
        k = g.add("KSampler", title=f"KSampler {title}", seed=1, steps=20, cfg=2.5, sampler_name="euler",
                  scheduler="normal")
        dec = g.add("TFV_DemoDecode")
        wire(g, (model, 0, k, "model"), (pos, 0, k, "positive"), (neg, 0, k, "negative"),
             (lat, 0, k, "latent_image"), (m, 1, dec, "decoder"), (k, 0, dec, "samples"))
        decoded.append(dec)
        samplers.append([k, dec])
    stages = comparison(g, "demo_metrics_freeinit", *decoded, ("without FreeInit", "with FreeInit"))
    layout(g, note, None, rows=[[("Model, prompts, latent", [[m, lat], [pos, neg]]), ("FreeInit", [[fi]]),
                                 ("Sample and decode", samplers)], stages])


def demo_metrics_fifo(g):
    note = g.note(note_text(
        "Demo 7: FIFO-Diffusion measured with Video Metrics",
        "48 frames from FIFO-Diffusion against the naive way to make a long video from a clip model, three "
        "independent 16-frame clips joined; both measured and compared: FIFO has no seams, so less flicker and "
        "higher consistency.",
        "num_frames, then the clip count on the naive side.",
        "window f = 8, partitions n = 2, lookahead on, CFG 4; clips: 20 Euler steps, CFG 4.", DEMO_MODELS,
        METRICS_NOTE))
    m = g.add("TFV_DemoModelLoader", temporal_correlation=0.95)
    pos = g.add("TFV_DemoTextEncode", title="Prompt", text="sunset clouds")
    neg = g.add("TFV_DemoTextEncode", title="Negative prompt", text="")
    window = g.add("EmptyLatentImage", title="Window (f = 8)", width=64, height=64, batch_size=8)
    fifo = g.add("TFV_FIFOSampler", size=(340, 520), seed=7, num_frames=48, window_frames=8, partitions=2,
                 windows_per_call=4, cfg=4.0)
    dec_fifo = g.add("TFV_DemoDecode", title="Decode FIFO")
    wire(g, (m, 0, fifo, "model"), (pos, 0, fifo, "positive"), (neg, 0, fifo, "negative"),
         (window, 0, fifo, "latent"), (m, 1, dec_fifo, "decoder"), (fifo, 0, dec_fifo, "samples"))
    clip = g.add("EmptyLatentImage", title="One clip (16 frames)", width=64, height=64, batch_size=16)
    clips, joins, joined = [], [], None
    for i in range(3):
        k = g.add("KSampler", title=f"Clip {i + 1} (seed {7 + i})", seed=7 + i, steps=20, cfg=4.0,
                  sampler_name="euler", scheduler="normal")
        wire(g, (m, 0, k, "model"), (pos, 0, k, "positive"), (neg, 0, k, "negative"), (clip, 0, k, "latent_image"))
        clips.append(k)
        if joined is None:
            joined = k
        else:
            batch = g.add("LatentBatch", title="Join clips")
            wire(g, (joined, 0, batch, "samples1"), (k, 0, batch, "samples2"))
            joins.append(batch)
            joined = batch
    dec_clips = g.add("TFV_DemoDecode", title="Decode clips")
    wire(g, (m, 1, dec_clips, "decoder"), (joined, 0, dec_clips, "samples"))
    stages = comparison(g, "demo_metrics_fifo", dec_clips, dec_fifo, ("3 clips joined", "FIFO-Diffusion"))
    layout(g, note, None, rows=[[("Model and prompts", [[m], [pos, neg]]), ("FIFO-Diffusion", [[window, fifo, dec_fifo]]),
                                 ("Three clips joined", [[clip, *clips], [*joins, dec_clips]])], stages])


def demo_metrics_ivmixed(g):
    note = g.note(note_text(
        "Demo 8: IV-Mixed Sampler measured with Video Metrics",
        "The video model alone (CFG) against IV-Mixed with the image model, same noise, measured and compared.",
        "omega_image / omega_video, then your own image and video models.",
        "CFG 2, ω = 1 for both models, official AnimateDiff labels, 20 Euler steps, 16 frames.", DEMO_MODELS,
        METRICS_NOTE))
    video = g.add("TFV_DemoModelLoader", title="Video model (demo)")
    image = g.add("TFV_DemoModelLoader", title="Image model (demo: no temporal correlation)", temporal_correlation=0.0)
    pos = g.add("TFV_DemoTextEncode", title="Prompt", text="sunset clouds")
    neg = g.add("TFV_DemoTextEncode", title="Negative prompt", text="")
    lat = g.add("EmptyLatentImage", width=64, height=64, batch_size=16)
    noise = g.add("RandomNoise", noise_seed=42)
    sampler = g.add("KSamplerSelect", sampler_name="euler")
    sigmas = g.add("BasicScheduler", scheduler="normal", steps=20, denoise=1.0)
    ivm = g.add("TFV_IVMixedGuider", size=(340, 420), cfg=2.0, omega_image=1.0, omega_video=1.0,
                start_percent=0.0, end_percent=1.0)
    cfg = g.add("CFGGuider", title="CFG guider (video model only)", cfg=2.0)
    wire(g, (video, 0, sigmas, "model"), (video, 0, ivm, "video_model"), (pos, 0, ivm, "video_positive"),
         (neg, 0, ivm, "video_negative"), (image, 0, ivm, "image_model"), (pos, 0, ivm, "image_positive"),
         (neg, 0, ivm, "image_negative"), (video, 0, cfg, "model"), (pos, 0, cfg, "positive"),
         (neg, 0, cfg, "negative"))
    decoded, runs = [], []
    for guider in (cfg, ivm):
        s = g.add("SamplerCustomAdvanced")
        dec = g.add("TFV_DemoDecode")
        wire(g, (noise, 0, s, "noise"), (guider, 0, s, "guider"), (sampler, 0, s, "sampler"),
             (sigmas, 0, s, "sigmas"), (lat, 0, s, "latent_image"), (video, 1, dec, "decoder"), (s, 0, dec, "samples"))
        decoded.append(dec)
        runs.append([s, dec])
    stages = comparison(g, "demo_metrics_ivmixed", *decoded, ("video model alone", "IV-Mixed"))
    layout(g, note, None, rows=[[("Models and prompts", [[video, image], [pos, neg]]),
                                 ("Noise, sampler, schedule", [[lat, noise], [sampler, sigmas]]),
                                 ("Guiders", [[cfg, ivm]]), ("Sample and decode", runs)], stages])


def demo_metrics_i4vgen(g):
    note = g.note(note_text(
        "Demo 9: I4VGen measured with Video Metrics",
        "I4VGen (candidates, reward ranking, static video, NI-VSDS, regeneration) against plain text-to-video "
        "with the same regeneration seed, measured and compared.",
        "the number of candidates, then NI-VSDS's steps and fraction.",
        "8 candidates, NI-VSDS at the paper's settings (25 steps, fraction 0.6, step sizes 10, 10, 10, 1), "
        "regeneration with DDIM 20 steps (ddim_uniform), CFG 2.5.", DEMO_MODELS, METRICS_NOTE))
    image = g.add("TFV_DemoModelLoader", title="Image model (frames independent)", temporal_correlation=0.0)
    video = g.add("TFV_DemoModelLoader", title="Video model")
    pos = g.add("TFV_DemoTextEncode", title="Prompt", text="sunset clouds")
    neg = g.add("TFV_DemoTextEncode", title="Negative prompt", text="")
    empty = g.add("EmptyLatentImage", title="Candidates", width=64, height=64, batch_size=8)
    cand = g.add("KSampler", title="Candidates", seed=0, steps=15, cfg=2.5)
    dec1 = g.add("TFV_DemoDecode")
    reward = g.add("TFV_RewardModelLoader", title="Reward (demo; ImageReward for real videos)")
    rank = g.add("TFV_RankByReward", size=(420, 420), prompt="sunset clouds", top_k=1, batch_size=8)
    static = g.add("TFV_StaticVideo", frames=16, layout="frames_in_batch")
    vsds = g.add("TFV_NIVSDS", seed=1, **{**NIVSDS_PAPER, "cfg": 2.5})
    regen = g.add("KSampler", title="Regeneration (p_re = 1)", seed=2, steps=20, cfg=2.5, sampler_name="ddim",
                  scheduler="ddim_uniform", denoise=1.0)
    frames = g.add("EmptyLatentImage", title="Plain text-to-video", width=64, height=64, batch_size=16)
    plain = g.add("KSampler", title="Plain text-to-video (same seed)", seed=2, steps=20, cfg=2.5, sampler_name="ddim",
                  scheduler="ddim_uniform", denoise=1.0)
    dec_on = g.add("TFV_DemoDecode", title="Decode I4VGen")
    dec_off = g.add("TFV_DemoDecode", title="Decode plain")
    wire(g, (image, 0, cand, "model"), (pos, 0, cand, "positive"), (neg, 0, cand, "negative"),
         (empty, 0, cand, "latent_image"), (image, 1, dec1, "decoder"), (cand, 0, dec1, "samples"),
         (reward, 0, rank, "reward_model"), (dec1, 0, rank, "images"), (cand, 0, rank, "latents"),
         (rank, 1, static, "samples"), (video, 0, vsds, "model"), (pos, 0, vsds, "positive"),
         (neg, 0, vsds, "negative"), (static, 0, vsds, "latent"), (video, 0, regen, "model"),
         (pos, 0, regen, "positive"), (neg, 0, regen, "negative"), (vsds, 0, regen, "latent_image"),
         (video, 0, plain, "model"), (pos, 0, plain, "positive"), (neg, 0, plain, "negative"),
         (frames, 0, plain, "latent_image"), (video, 1, dec_on, "decoder"), (regen, 0, dec_on, "samples"),
         (video, 1, dec_off, "decoder"), (plain, 0, dec_off, "samples"))
    stages = comparison(g, "demo_metrics_i4vgen", dec_off, dec_on, ("plain text-to-video", "I4VGen"))
    layout(g, note, None, rows=[[("Models and prompts", [[image, video], [pos, neg]]),
                                 ("Candidates and ranking", [[empty, cand, dec1], [reward, rank]]),
                                 ("NI-VSDS and regeneration", [[static, vsds, regen, dec_on]]),
                                 ("Plain text-to-video", [[frames, plain, dec_off]])], stages])


# key: (file name = the title the template browser shows, builder). Demos first (they sort first).
WORKFLOWS = {
    "demo_ksampler": ("Demo 1, KSampler video in both latent layouts", demo_ksampler),
    "demo_freeinit": ("Demo 2, FreeInit on and off", demo_freeinit),
    "demo_fifo": ("Demo 3, FIFO-Diffusion 48 frames with a prompt change", demo_fifo),
    "demo_ivmixed": ("Demo 4, IV-Mixed Sampler", demo_ivmixed),
    "demo_i4vgen": ("Demo 5, I4VGen with and without NI-VSDS", demo_i4vgen),
    "freeinit_animatediff": ("FreeInit, AnimateDiff SD1.5 (paper settings)", freeinit_animatediff),
    "freeinit_wan21": ("FreeInit, Wan 2.1 T2V 1.3B", freeinit_wan21),
    "fifo_animatediff": ("FIFO-Diffusion, AnimateDiff SD1.5, 320 frames", fifo_animatediff),
    "fifo_wan21": ("FIFO-Diffusion, Wan 2.1 T2V 1.3B (experimental)", fifo_wan21),
    "ivmixed_animatediff": ("IV-Mixed Sampler, AnimateDiff with an SD1.5 image model", ivmixed_animatediff),
    "i4vgen_animatediff": ("I4VGen, AnimateDiff SD1.5 with ImageReward (paper settings)", i4vgen_animatediff),
    "demo_metrics_freeinit": ("Demo 6, FreeInit measured with Video Metrics", demo_metrics_freeinit),
    "demo_metrics_fifo": ("Demo 7, FIFO-Diffusion measured with Video Metrics", demo_metrics_fifo),
    "demo_metrics_ivmixed": ("Demo 8, IV-Mixed measured with Video Metrics", demo_metrics_ivmixed),
    "demo_metrics_i4vgen": ("Demo 9, I4VGen measured with Video Metrics", demo_metrics_i4vgen),
    "demo_learned": ("Demo X, learned video models - KSampler, FreeInit and FIFO", demo_learned),
}


def path_of(key: str) -> Path:
    return REPO / "workflows" / f"{WORKFLOWS[key][0]}.json"


def main(keys):
    testenv.load_host()
    from comfy_server import ComfyServer
    from workflow_builder import UIGraph, layout_overlaps
    from workflow_checks import external_nodes
    with ComfyServer() as srv:
        info = {**external_nodes(), **srv.get("/object_info")}
    known = {f"{title}.json" for title, _ in WORKFLOWS.values()}
    for stale in (REPO / "workflows").glob("*.json"):
        if stale.name not in known:
            stale.unlink()
            print("removed", stale.relative_to(REPO))
    for key in keys or WORKFLOWS:
        g = UIGraph(info)
        WORKFLOWS[key][1](g)
        wf = g.to_json()
        assert not layout_overlaps(wf), (key, layout_overlaps(wf))
        path_of(key).write_text(json.dumps(wf, indent=1) + "\n")
        print("wrote", path_of(key).relative_to(REPO))


if __name__ == "__main__":
    main(sys.argv[1:])
