"""The pack inside a real ComfyUI server (main.py --cpu), driven over its HTTP API."""
import re

from PIL import Image

from comfy_server import quick_test

ERROR_LINE = re.compile(r"error|exception|traceback|import failed|cannot import", re.I)


def pack_node_ids(info):
    return sorted(k for k in info if k.startswith("TFV_"))


def test_startup_log_has_no_error_lines():
    code, log = quick_test()
    assert code == 0, log[-3000:]
    assert "training-free-video" in log
    bad = [line for line in log.splitlines() if ERROR_LINE.search(line)]
    assert not bad, "\n".join(bad)


def test_pack_nodes_are_served_with_tooltips(server):
    info = server.get("/object_info")
    ids = pack_node_ids(info)
    assert {"TFV_DemoModelLoader", "TFV_DemoTextEncode", "TFV_DemoDecode"} <= set(ids)
    for nid in ids:
        node = info[nid]
        assert node["description"] and node["category"].startswith("training-free-video")
        for group in ("required", "optional"):
            for name, spec in node["input"].get(group, {}).items():
                assert len(spec) > 1 and spec[1].get("tooltip"), f"{nid}.{name} has no tooltip"
    assert "TFVTest_TinyModelLoader" in info  # the test-only loaders are there too


def demo_prompt(frames=8, size=64):
    return {
        "1": {"class_type": "TFV_DemoModelLoader", "inputs": {
            "layout": "frames_in_batch", "parameterization": "eps", "temporal_correlation": 0.9,
            "spatial_scale": 2.0, "shift": 3.0}},
        "2": {"class_type": "TFV_DemoTextEncode", "inputs": {"text": "sunset clouds"}},
        "3": {"class_type": "TFV_DemoTextEncode", "inputs": {"text": ""}},
        "4": {"class_type": "EmptyLatentImage", "inputs": {"width": size, "height": size, "batch_size": frames}},
        "5": {"class_type": "KSampler", "inputs": {
            "model": ["1", 0], "positive": ["2", 0], "negative": ["3", 0], "latent_image": ["4", 0],
            "seed": 1, "steps": 10, "cfg": 2.0, "sampler_name": "euler", "scheduler": "normal", "denoise": 1.0}},
        "6": {"class_type": "TFV_DemoDecode", "inputs": {"decoder": ["1", 1], "samples": ["5", 0]}},
        "7": {"class_type": "SaveAnimatedWEBP", "inputs": {
            "images": ["6", 0], "filename_prefix": "tfv_demo", "fps": 8.0, "lossless": False, "quality": 80,
            "method": "default"}},
    }


def test_demo_workflow_runs_over_http(server):
    entry = server.run(demo_prompt())
    files = server.output_files(entry)
    assert len(files) == 1 and files[0].suffix == ".webp"
    with Image.open(files[0]) as im:
        assert im.n_frames == 8 and im.size == (64, 64)


def test_tiny_model_through_ksampler_over_http(server):
    prompt = {
        "1": {"class_type": "TFVTest_TinyModelLoader", "inputs": {"kind": "animatediff_eps", "seed": 0}},
        "2": {"class_type": "TFVTest_TinyConditioning", "inputs": {"kind": "animatediff", "seed": 1}},
        "3": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": 4}},
        "4": {"class_type": "KSampler", "inputs": {
            "model": ["1", 0], "positive": ["2", 0], "negative": ["2", 0], "latent_image": ["3", 0],
            "seed": 1, "steps": 3, "cfg": 1.0, "sampler_name": "euler", "scheduler": "normal", "denoise": 1.0}},
        "5": {"class_type": "SaveLatent", "inputs": {"samples": ["4", 0], "filename_prefix": "tfv_tiny"}},
    }
    entry = server.run(prompt)
    files = server.output_files(entry)
    assert len(files) == 1 and files[0].stat().st_size > 0


def test_bad_input_reports_the_node_error_over_http(server):
    prompt = demo_prompt()
    prompt["4"] = {"class_type": "EmptyHunyuanLatentVideo",
                   "inputs": {"width": 64, "height": 64, "length": 9, "batch_size": 1}}
    try:
        server.run(prompt)
    except RuntimeError as e:
        assert "execution_error" in str(e) and "change the loader's layout" in str(e)
    else:
        raise AssertionError("a 5D latent on a frames-in-batch demo model must fail")
