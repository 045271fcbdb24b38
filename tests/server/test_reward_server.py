"""Rank by Reward in a real ComfyUI server: demo candidates -> ranking, UI payload, previews, blocked latents."""
import io
import urllib.parse
import urllib.request

from PIL import Image

DEMO_REWARD = "demo_aesthetic (no weights)"


def ranking_prompt(with_latents=True, top_k=2):
    prompt = {
        "1": {"class_type": "TFV_DemoModelLoader", "inputs": {
            "layout": "frames_in_batch", "parameterization": "eps", "temporal_correlation": 0.0,
            "spatial_scale": 2.0, "shift": 3.0}},
        "2": {"class_type": "TFV_DemoTextEncode", "inputs": {"text": "sunset clouds"}},
        "3": {"class_type": "TFV_DemoTextEncode", "inputs": {"text": ""}},
        "4": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": 4}},
        "5": {"class_type": "KSampler", "inputs": {
            "model": ["1", 0], "positive": ["2", 0], "negative": ["3", 0], "latent_image": ["4", 0],
            "seed": 7, "steps": 6, "cfg": 2.0, "sampler_name": "euler", "scheduler": "normal", "denoise": 1.0}},
        "6": {"class_type": "TFV_DemoDecode", "inputs": {"decoder": ["1", 1], "samples": ["5", 0]}},
        "7": {"class_type": "TFV_RewardModelLoader", "inputs": {
            "model_name": DEMO_REWARD, "kind": "auto", "precision": "auto"}},
        "8": {"class_type": "TFV_RankByReward", "inputs": {
            "reward_model": ["7", 0], "images": ["6", 0], "prompt": "sunset clouds", "top_k": top_k,
            "batch_size": 3}},
        "9": {"class_type": "SaveLatent", "inputs": {"samples": ["8", 1], "filename_prefix": "tfv_anchor"}},
        "10": {"class_type": "SaveImage", "inputs": {"images": ["8", 0], "filename_prefix": "tfv_anchor"}},
    }
    if with_latents:
        prompt["8"]["inputs"]["latents"] = ["5", 0]
    return prompt


def view(server, item) -> Image.Image:
    query = urllib.parse.urlencode(item)
    with urllib.request.urlopen(f"{server.url}/view?{query}", timeout=30) as r:
        return Image.open(io.BytesIO(r.read()))


def test_loader_offers_the_demo_reward(server):
    spec = server.get("/object_info/TFV_RewardModelLoader")["TFV_RewardModelLoader"]
    assert spec["input"]["required"]["model_name"][1]["options"][0] == DEMO_REWARD
    assert spec["output"] == ["TFV_REWARD_MODEL"] and spec["category"] == "training-free-video/i4vgen"
    rank = server.get("/object_info/TFV_RankByReward")["TFV_RankByReward"]
    assert rank["output_node"] and rank["output"] == ["IMAGE", "LATENT", "STRING", "STRING", "STRING"]
    assert rank["output_name"] == ["images", "latents", "indices", "scores", "ranking"]


def test_rank_by_reward_ui_payload_over_http(server):
    entry = server.run(ranking_prompt())
    out = entry["outputs"]["8"]
    scores, order = out["tfv_scores"], out["tfv_ranking"]
    assert len(scores) == 4 and sorted(order) == [0, 1, 2, 3] and out["tfv_top_k"] == [2]
    assert all(scores[a] >= scores[b] for a, b in zip(order, order[1:]))
    assert len(out["tfv_candidates"]) == 4 and all(i["type"] == "temp" for i in out["tfv_candidates"])
    for item in out["tfv_candidates"]:
        assert view(server, item).size == (64, 64)
    saved = server.output_files(entry)
    assert sorted(p.suffix for p in saved) == [".latent", ".png", ".png"]   # top-2 images and their latents


def test_missing_latents_block_only_their_user(server):
    entry = server.run(ranking_prompt(with_latents=False, top_k=1))
    assert "8" in entry["outputs"] and "9" not in entry["outputs"]          # SaveLatent blocked
    assert [p.suffix for p in server.output_files(entry)] == [".png"]        # SaveImage ran
