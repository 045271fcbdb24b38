"""The IV-Mixed Guider in a real server: its demo workflow, converted with /object_info, runs over HTTP."""
import json

from PIL import Image

from comfy_server import REPO

WIDGET_TYPES = {"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"}


def widget_names(spec):
    """The node's widget inputs in UI order, each followed by None where the UI adds a control_after_generate."""
    names = []
    for group in ("required", "optional"):
        for name, (kind, *opts) in spec["input"].get(group, {}).items():
            if isinstance(kind, list) or kind in WIDGET_TYPES:
                names.append(name)
                if opts and opts[0].get("control_after_generate"):
                    names.append(None)
    return names


def to_api(workflow, info):
    """UI-format workflow -> API prompt: links become [node, slot], widgets_values are matched by position."""
    links = {lid: (src, slot) for lid, src, slot, *_ in workflow["links"]}
    prompt = {}
    for node in workflow["nodes"]:
        names = widget_names(info[node["type"]])
        assert len(names) == len(node["widgets_values"]), (node["type"], names, node["widgets_values"])
        inputs = {n: v for n, v in zip(names, node["widgets_values"]) if n is not None}
        for inp in node["inputs"]:
            if inp["link"] is not None:
                src, slot = links[inp["link"]]
                inputs[inp["name"]] = [str(src), slot]
        prompt[str(node["id"])] = {"class_type": node["type"], "inputs": inputs}
    return prompt


def test_demo_workflow_runs(server):
    workflow = json.loads((REPO / "workflows" / "demo_ivmixed.json").read_text())
    assert workflow["version"] == 0.4
    prompt = to_api(workflow, server.get("/object_info"))
    files = server.output_files(server.run(prompt))
    assert len(files) == 1 and files[0].suffix == ".webp"
    with Image.open(files[0]) as im:
        assert im.n_frames == 16 and im.size == (64, 64)


def test_animatediff_workflow_uses_current_core_widgets(server):
    """Core nodes of the AnimateDiff workflow match this ComfyUI's inputs (AnimateDiff-Evolved is not installed)."""
    info = server.get("/object_info")
    workflow = json.loads((REPO / "workflows" / "ivmixed_animatediff.json").read_text())
    types = {n["type"] for n in workflow["nodes"]}
    assert {"ADE_AnimateDiffLoaderGen1", "TFV_IVMixedGuider", "SamplerCustomAdvanced"} <= types
    for node in workflow["nodes"]:
        if node["type"] in info:
            assert len(widget_names(info[node["type"]])) == len(node["widgets_values"]), node["type"]
