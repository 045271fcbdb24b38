"""Video Metrics over HTTP: a batch of demo videos split by frames_per_video, the JSON file in the output folder,
and a bad frames_per_video reported with the node's name."""
import json

import pytest


def metrics_prompt(frames_per_video):
    """12 demo frames (64 px) into Video Metrics."""
    p = {
        "1": {"class_type": "TFV_DemoModelLoader", "inputs": {
            "layout": "frames_in_batch", "parameterization": "eps", "temporal_correlation": 0.9,
            "spatial_scale": 2.0, "shift": 3.0}},
        "2": {"class_type": "TFV_DemoTextEncode", "inputs": {"text": "sunset clouds"}},
        "3": {"class_type": "TFV_DemoTextEncode", "inputs": {"text": ""}},
        "4": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": 12}},
        "5": {"class_type": "KSampler", "inputs": {
            "model": ["1", 0], "positive": ["2", 0], "negative": ["3", 0], "latent_image": ["4", 0],
            "seed": 1, "steps": 4, "cfg": 2.0, "sampler_name": "euler", "scheduler": "normal", "denoise": 1.0}},
        "6": {"class_type": "TFV_DemoDecode", "inputs": {"decoder": ["1", 1], "samples": ["5", 0]}},
    }
    p["8"] = {"class_type": "TFV_VideoMetrics", "inputs": {
        "images": ["6", 0], "frames_per_video": frames_per_video, "fps": 8.0, "label": "demo",
        "flow_model": "none (weight-free proxies)", "batch_size": 16, "filename_prefix": "metrics/http"}}
    return p


def test_video_metrics_saves_json_per_video(server):
    entry = server.run(metrics_prompt(4))
    files = server.output_files(entry)
    assert len(files) == 1 and files[0].suffix == ".json" and files[0].parent.name == "metrics"
    saved = json.loads(files[0].read_text())
    assert [v["label"] for v in saved["videos"]] == ["demo #1", "demo #2", "demo #3"]
    for v in saved["videos"]:
        assert v["frames"] == 4 and 0 < v["metrics"]["temporal_flickering"] <= 1
        assert v["backbones"]["subject_consistency"].startswith("pixels")
    ui = entry["outputs"]["8"]
    assert ui["images"] and "| subject consistency |" in ui["text"][0]


def test_bad_frames_per_video_names_the_node(server):
    with pytest.raises(RuntimeError, match=r"\[Video Metrics\] the batch has 12 frames"):
        server.run(metrics_prompt(5))
