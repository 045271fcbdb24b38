"""Checks for the example workflows in workflows/: structure, node types, widget values against the
running host's /object_info (and a fixture of external packs' inputs), and the rewrite that lets each
workflow run end to end on the tiny / demo models."""
import json
import zlib
from pathlib import Path

from workflow_api import UI_ONLY, convert, input_specs, is_widget, has_control_value, widget_values

REPO = Path(__file__).resolve().parents[1]
FIXTURE = REPO / "tests" / "fixtures" / "external_nodes.json"
# Node packs a workflow may use besides this pack and ComfyUI core (README names them and these types).
EXTERNAL_PACKS = ("ComfyUI-AnimateDiff-Evolved", "ComfyUI-VideoHelperSuite")


def workflow_files() -> list[Path]:
    return sorted((REPO / "workflows").glob("*.json"))


def external_nodes() -> dict:
    return json.loads(FIXTURE.read_text())["nodes"] if FIXTURE.exists() else {}


def structure_errors(wf: dict) -> list[str]:
    """UI format 0.4: required keys, unique ids, and links that agree with both of their ends."""
    errs = [f"missing key {k!r}" for k in ("nodes", "links", "last_node_id", "last_link_id", "version") if k not in wf]
    if errs:
        return errs
    nodes = {}
    for n in wf["nodes"]:
        if n["id"] in nodes:
            errs.append(f"duplicate node id {n['id']}")
        nodes[n["id"]] = n
    if nodes and max(nodes) > wf["last_node_id"]:
        errs.append("last_node_id is smaller than a node id")
    seen = set()
    for link in wf["links"]:
        lid, src, sslot, dst, dslot, ltype = link[:6]
        if lid in seen:
            errs.append(f"duplicate link id {lid}")
        seen.add(lid)
        if lid > wf["last_link_id"]:
            errs.append(f"link {lid} above last_link_id")
        if src not in nodes or dst not in nodes:
            errs.append(f"link {lid} joins missing nodes {src}->{dst}")
            continue
        outs, ins = nodes[src].get("outputs", []), nodes[dst].get("inputs", [])
        if sslot >= len(outs) or lid not in (outs[sslot].get("links") or []):
            errs.append(f"link {lid}: source {nodes[src]['type']}#{src} slot {sslot} does not list it")
        if dslot >= len(ins) or ins[dslot].get("link") != lid:
            errs.append(f"link {lid}: target {nodes[dst]['type']}#{dst} slot {dslot} does not hold it")
        elif ltype != "*" and ins[dslot].get("type") not in ("*", ltype) and nodes[dst]["type"] not in UI_ONLY:
            errs.append(f"link {lid}: type {ltype} into {nodes[dst]['type']}.{ins[dslot].get('name')} "
                        f"of type {ins[dslot].get('type')}")
    for n in nodes.values():
        for inp in n.get("inputs", []):
            if inp.get("link") is not None and inp["link"] not in seen:
                errs.append(f"{n['type']}#{n['id']}.{inp['name']} refers to missing link {inp['link']}")
    return errs


# Combos that list model files installed on the user's machine: a workflow names the file it was made with.
FILE_WIDGETS = {"ckpt_name", "unet_name", "clip_name", "vae_name", "lora_name", "model_name"}


def value_error(name: str, spec, value) -> str | None:
    kind = spec[0]
    opts = spec[1] if len(spec) > 1 and isinstance(spec[1], dict) else {}
    choices = kind if isinstance(kind, list) else opts.get("options") if kind == "COMBO" else None
    if choices is not None:
        if opts.get("dynamic") or not choices or name in FILE_WIDGETS:  # filled from a folder at run time
            return None if isinstance(value, str) else f"{name}: {value!r} is not a string"
        return None if value in choices else f"{name}: {value!r} not in {choices[:8]}"
    if kind == "BOOLEAN":
        return None if isinstance(value, bool) else f"{name}: {value!r} is not a boolean"
    if kind == "STRING":
        return None if isinstance(value, str) else f"{name}: {value!r} is not a string"
    if kind in ("INT", "FLOAT"):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind == "INT" and value != int(value)):
            return f"{name}: {value!r} is not {kind}"
        if "min" in opts and value < opts["min"] or "max" in opts and value > opts["max"]:
            return f"{name}: {value} outside [{opts.get('min')}, {opts.get('max')}]"
    return None


def widget_errors(wf: dict, object_info: dict) -> list[str]:
    """Each node's type is known and its widget values fit its current inputs (count, types, ranges, combos)."""
    defs = {**external_nodes(), **object_info}
    errs = []
    for n in wf["nodes"]:
        t = n["type"]
        if t in UI_ONLY:
            continue
        if t not in defs:
            errs.append(f"{t}#{n['id']}: unknown node type (not in this pack, core, or {EXTERNAL_PACKS})")
            continue
        values = n.get("widgets_values", [])
        specs = [(name, spec) for name, spec, _ in input_specs(defs[t]) if is_widget(spec)]
        if isinstance(values, dict):  # VHS saves by name, with frontend-only entries (format options, preview)
            missing = {name for name, _ in specs} - set(values)
            errs += [f"{t}#{n['id']}: no value for widget {m!r}" for m in sorted(missing)]
        else:
            expected = sum(2 if has_control_value(spec) else 1 for _, spec in specs)
            if len(values) != expected:
                errs.append(f"{t}#{n['id']}: {len(values)} widget values, the node has {expected} "
                            f"({[name for name, _ in specs]})")
                continue
        for name, value in widget_values(n, defs[t]).items():
            e = value_error(name, dict(specs)[name], value)
            if e:
                errs.append(f"{t}#{n['id']}.{e}")
    return errs


# ---- running a workflow on the tiny / demo models ----------------------------------------------------
SHRINK = {"steps": 3, "width": 64, "height": 64, "batch_size": 8, "length": 9, "num_frames": 20,
          "iterations": 2, "frame_rate": None, "window_frames": 2, "partitions": 1}


def uses_wan(prompt: dict) -> bool:
    return any(n["class_type"] in ("UNETLoader", "UnetLoaderGGUF") for n in prompt.values())


def rewrite_for_test(prompt: dict) -> tuple[dict, list[str]]:
    """Swap real-model loaders and external packs' nodes for the test host's tiny models and core nodes,
    and shrink sizes and step counts. Returns the new prompt and what was replaced."""
    p = json.loads(json.dumps(prompt))
    replaced, passthrough, removed = [], {}, set()
    cond_kind = "wan21_5d_flow" if uses_wan(p) else "animatediff"
    for nid, node in list(p.items()):
        t, inp = node["class_type"], node["inputs"]
        if t == "CheckpointLoaderSimple":
            p[nid] = {"class_type": "TFVTest_TinyModelLoader", "inputs": {"kind": "animatediff_eps", "seed": 0}}
        elif t == "UNETLoader":
            p[nid] = {"class_type": "TFVTest_TinyModelLoader", "inputs": {"kind": "wan21_5d_flow", "seed": 0}}
        elif t in ("CLIPLoader", "DualCLIPLoader", "VAELoader", "CLIPSetLastLayer"):
            removed.add(nid)
        elif t == "CLIPTextEncode":
            seed = zlib.crc32(str(inp.get("text", "")).encode()) % 100000
            p[nid] = {"class_type": "TFVTest_TinyConditioning", "inputs": {"kind": cond_kind, "seed": seed}}
        elif t in ("VAEDecode", "VAEDecodeTiled"):
            p[nid] = {"class_type": "TFVTest_LatentToImage", "inputs": {"samples": inp["samples"]}}
        elif t == "VHS_VideoCombine":
            p[nid] = {"class_type": "SaveAnimatedWEBP", "inputs": {
                "images": inp["images"], "filename_prefix": str(inp.get("filename_prefix", "tfv")),
                "fps": float(inp.get("frame_rate", 8)), "lossless": False, "quality": 80, "method": "default"}}
        elif t == "TFV_RewardModelLoader" and inp.get("model_name") != "demo_aesthetic (no weights)":
            p[nid] = {"class_type": t, "inputs": {**inp, "model_name": "demo_aesthetic (no weights)", "kind": "auto"}}
        elif t.startswith("ADE_") and isinstance(inp.get("model"), list):
            passthrough[nid] = inp["model"]            # the tiny UNet already has temporal layers
        elif t.startswith("ADE_"):
            removed.add(nid)
        else:
            continue
        now = "removed" if nid in removed else "pass-through" if nid in passthrough else p[nid]["class_type"]
        replaced.append(f"{t}#{nid} -> {now}")
    for nid in list(passthrough) + list(removed):
        p.pop(nid, None)

    def resolve(ref):
        while isinstance(ref, list) and ref[0] in passthrough:
            ref = passthrough[ref[0]]
        return ref
    for node in p.values():
        for name, ref in list(node["inputs"].items()):
            ref = resolve(ref)
            if isinstance(ref, list) and len(ref) == 2 and ref[0] in removed:
                del node["inputs"][name]
            else:
                node["inputs"][name] = ref
        for name, cap in SHRINK.items():
            if cap is not None and isinstance(node["inputs"].get(name), int) and node["inputs"][name] > cap:
                node["inputs"][name] = cap
    return p, replaced


def api_prompt(wf: dict, object_info: dict) -> dict:
    return convert(wf, {**external_nodes(), **object_info})
