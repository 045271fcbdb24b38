"""The workflow checker catches what it promises to catch (deliberately broken copies of a workflow)."""
import copy
import json

from workflow_api import convert
from workflow_checks import REPO, rewrite_for_test, structure_errors, widget_errors

INFO = {
    "KSampler": {"input": {"required": {
        "model": ["MODEL"], "seed": ["INT", {"default": 0, "min": 0, "max": 2**64, "control_after_generate": True}],
        "steps": ["INT", {"default": 20, "min": 1, "max": 10000}], "cfg": ["FLOAT", {"default": 8.0}],
        "sampler_name": [["euler", "ddim"], {}], "scheduler": [["normal", "karras"], {}],
        "positive": ["CONDITIONING"], "negative": ["CONDITIONING"], "latent_image": ["LATENT"],
        "denoise": ["FLOAT", {"default": 1.0, "min": 0.0, "max": 1.0}]}}, "output": ["LATENT"]},
    "Loader": {"input": {"required": {"name": ["COMBO", {"options": ["a", "b"]}]}}, "output": ["MODEL"]},
}


def workflow():
    return {"last_node_id": 2, "last_link_id": 1, "version": 0.4, "groups": [], "config": {}, "extra": {},
            "nodes": [
                {"id": 1, "type": "Loader", "inputs": [], "widgets_values": ["a"],
                 "outputs": [{"name": "MODEL", "type": "MODEL", "links": [1]}]},
                {"id": 2, "type": "KSampler", "outputs": [{"name": "LATENT", "type": "LATENT", "links": []}],
                 "inputs": [{"name": "model", "type": "MODEL", "link": 1},
                            {"name": "positive", "type": "CONDITIONING", "link": None},
                            {"name": "negative", "type": "CONDITIONING", "link": None},
                            {"name": "latent_image", "type": "LATENT", "link": None}],
                 "widgets_values": [5, "fixed", 20, 7.5, "euler", "normal", 1.0]}],
            "links": [[1, 1, 0, 2, 0, "MODEL"]]}


def test_a_good_workflow_passes_and_converts():
    wf = workflow()
    assert structure_errors(wf) == [] and widget_errors(wf, INFO) == []
    api = convert(wf, INFO)
    assert api["2"]["inputs"]["seed"] == 5 and api["2"]["inputs"]["steps"] == 20   # control value skipped
    assert api["2"]["inputs"]["model"] == ["1", 0]


def test_breakages_are_caught():
    wf = workflow()
    bad = copy.deepcopy(wf)
    bad["nodes"][1]["widgets_values"][4] = "no_such_sampler"
    assert any("no_such_sampler" in e for e in widget_errors(bad, INFO))
    bad = copy.deepcopy(wf)
    bad["nodes"][1]["widgets_values"].pop()
    assert any("6 widget values, the node has 7" in e for e in widget_errors(bad, INFO))
    bad = copy.deepcopy(wf)
    bad["nodes"][1]["widgets_values"][6] = 1.5
    assert any("outside" in e for e in widget_errors(bad, INFO))
    bad = copy.deepcopy(wf)
    bad["nodes"][0]["outputs"][0]["links"] = []
    assert any("does not list it" in e for e in structure_errors(bad))
    bad = copy.deepcopy(wf)
    bad["nodes"][1]["type"] = "MissingNode"
    assert any("unknown node type" in e for e in widget_errors(bad, INFO))


def test_rewrite_swaps_loaders_and_external_nodes():
    prompt = {
        "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sd15.safetensors"}},
        "2": {"class_type": "ADE_AnimateDiffLoaderGen1", "inputs": {"model": ["1", 0], "model_name": "mm.ckpt"}},
        "3": {"class_type": "CLIPTextEncode", "inputs": {"text": "a cat", "clip": ["1", 1]}},
        "4": {"class_type": "KSampler", "inputs": {"model": ["2", 0], "positive": ["3", 0], "steps": 25}},
        "5": {"class_type": "VAEDecode", "inputs": {"samples": ["4", 0], "vae": ["1", 2]}},
        "6": {"class_type": "VHS_VideoCombine", "inputs": {"images": ["5", 0], "frame_rate": 8,
                                                           "filename_prefix": "x"}},
    }
    p, replaced = rewrite_for_test(prompt)
    assert p["1"]["class_type"] == "TFVTest_TinyModelLoader" and "2" not in p
    assert p["4"]["inputs"]["model"] == ["1", 0] and p["4"]["inputs"]["steps"] == 3
    assert p["6"]["class_type"] == "SaveAnimatedWEBP" and len(replaced) == 5


def test_every_shipped_workflow_is_well_formed():
    for path in sorted((REPO / "workflows").glob("*.json")):
        assert structure_errors(json.loads(path.read_text())) == [], path.name
