"""FIFO-Diffusion workflows in a real ComfyUI server: widget lists match the served node definitions, and the
demo workflow runs end to end over HTTP."""
import json
from pathlib import Path

from PIL import Image

WORKFLOWS = Path(__file__).resolve().parents[2] / "workflows"
WIDGET_TYPES = {"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"}


def widget_names(spec):
    """Widget inputs of a node from /object_info, in the order the UI writes widgets_values; a name is
    followed by None where the UI stores a control value (seed: control_after_generate)."""
    names = []
    for group in ("required", "optional"):
        for name in spec.get("input_order", {}).get(group, spec["input"].get(group, {}).keys()):
            kind, opts = (spec["input"][group][name] + [{}])[:2]
            if isinstance(kind, list) or kind in WIDGET_TYPES:
                names.append(name)
                if opts.get("control_after_generate"):
                    names.append(None)
    return names


def to_api(workflow, info):
    """UI-format workflow -> API prompt (links and positional widgets only; enough for these workflows)."""
    links = {link[0]: link for link in workflow["links"]}
    prompt = {}
    for node in workflow["nodes"]:
        spec = info[node["type"]]
        inputs = {name: value for name, value in zip(widget_names(spec), node["widgets_values"]) if name}
        for inp in node["inputs"]:
            if inp.get("link") is not None:
                link = links[inp["link"]]
                inputs[inp["name"]] = [str(link[1]), link[2]]
        prompt[str(node["id"])] = {"class_type": node["type"], "inputs": inputs}
    return prompt


def test_fifo_workflows_match_the_served_nodes(server):
    info = server.get("/object_info")
    for path in sorted(WORKFLOWS.glob("*fifo*.json")):
        workflow = json.loads(path.read_text())
        assert workflow["version"] == 0.4
        for node in workflow["nodes"]:
            if node["type"] not in info:                               # AnimateDiff-Evolved is not installed here
                assert node["type"].startswith("ADE_"), (path.name, node["type"])
                continue
            names = widget_names(info[node["type"]])
            assert len(node["widgets_values"]) == len(names), (path.name, node["type"], names)
            for inp in node["inputs"]:
                spec = info[node["type"]]["input"]
                assert inp["name"] in spec["required"] or inp["name"] in spec.get("optional", {}), (path.name, inp)


def test_demo_fifo_workflow_runs_over_http(server):
    workflow = json.loads((WORKFLOWS / "demo_fifo.json").read_text())
    entry = server.run(to_api(workflow, server.get("/object_info")))
    files = server.output_files(entry)
    frames = next(n for n in workflow["nodes"] if n["type"] == "TFV_FIFOSampler")["widgets_values"][2]
    assert len(files) == 1 and files[0].suffix == ".webp"
    with Image.open(files[0]) as im:
        assert im.n_frames == frames and im.size == (64, 64)
