"""I4VGen's animation half in a real ComfyUI server: anchor image -> static video -> NI-VSDS -> regeneration."""
import pytest
from PIL import Image


def i4vgen_prompt(frames=6, size=32):
    return {
        "1": {"class_type": "TFV_DemoModelLoader", "inputs": {
            "layout": "frames_in_batch", "parameterization": "eps", "temporal_correlation": 0.9,
            "spatial_scale": 2.0, "shift": 3.0}},
        "2": {"class_type": "TFV_DemoTextEncode", "inputs": {"text": "sunset clouds"}},
        "3": {"class_type": "TFV_DemoTextEncode", "inputs": {"text": ""}},
        "4": {"class_type": "EmptyLatentImage", "inputs": {"width": size, "height": size, "batch_size": 2}},
        "5": {"class_type": "KSampler", "inputs": {                     # two candidate anchor images
            "model": ["1", 0], "positive": ["2", 0], "negative": ["3", 0], "latent_image": ["4", 0],
            "seed": 1, "steps": 6, "cfg": 2.0, "sampler_name": "euler", "scheduler": "normal", "denoise": 1.0}},
        "6": {"class_type": "TFV_StaticVideo", "inputs": {
            "samples": ["5", 0], "batch_index": 1, "frames": frames, "layout": "frames_in_batch"}},
        "7": {"class_type": "TFV_NIVSDS", "inputs": {
            "model": ["1", 0], "positive": ["2", 0], "negative": ["3", 0], "latent": ["6", 0], "seed": 2,
            "steps": 10, "cfg": 2.0, "scheduler": "ddim_uniform", "fraction": 0.6, "step_sizes": "10, 10, 10, 1",
            "max_weight": 1.0}},
        "8": {"class_type": "KSampler", "inputs": {                     # regeneration, the paper's p_re = 1
            "model": ["1", 0], "positive": ["2", 0], "negative": ["3", 0], "latent_image": ["7", 0],
            "seed": 3, "steps": 10, "cfg": 2.0, "sampler_name": "ddim", "scheduler": "ddim_uniform", "denoise": 1.0}},
        "9": {"class_type": "TFV_DemoDecode", "inputs": {"decoder": ["1", 1], "samples": ["8", 0]}},
        "10": {"class_type": "SaveAnimatedWEBP", "inputs": {
            "images": ["9", 0], "filename_prefix": "tfv_i4vgen", "fps": 8.0, "lossless": False, "quality": 80,
            "method": "default"}},
    }


def test_anchor_to_video_runs_over_http(server):
    entry = server.run(i4vgen_prompt())
    files = server.output_files(entry)
    assert len(files) == 1
    with Image.open(files[0]) as im:
        assert im.n_frames == 6 and im.size == (32, 32)


def test_image_latent_into_nivsds_names_the_fix_over_http(server):
    prompt = i4vgen_prompt()
    prompt["4"]["inputs"]["batch_size"] = 1
    prompt["7"]["inputs"]["latent"] = ["5", 0]                        # the anchor image, not a static video
    with pytest.raises(RuntimeError, match="Static Video from Image Latent"):
        server.run(prompt)


def test_nodes_are_listed_with_their_widgets(server):
    info = server.get("/object_info")
    nv = info["TFV_NIVSDS"]
    assert nv["category"] == "training-free-video/i4vgen" and nv["output"] == ["LATENT"]
    assert list(nv["input"]["required"]) == ["model", "positive", "negative", "latent", "seed", "steps", "cfg",
                                             "scheduler", "fraction", "step_sizes", "max_weight"]
    assert nv["input"]["required"]["seed"][1].get("control_after_generate")
    sv = info["TFV_StaticVideo"]
    assert list(sv["input"]["required"]) == ["samples", "batch_index", "frames", "layout"]
