"""UI-format workflows (what ComfyUI's File > Save writes, version 0.4) -> API-format prompts.

Follows what the frontend's graphToPrompt does for the cases our workflows use: widget values are
positional over the node's widget inputs in /object_info order (a widget with control_after_generate is
followed by its control value), links become [source_id, slot], Reroute nodes are followed, bypassed
nodes pass their matching input through, muted nodes and UI-only nodes (notes, primitives) are dropped.
"""
WIDGET_TYPES = {"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"}
UI_ONLY = {"Note", "MarkdownNote", "PrimitiveNode", "Reroute"}
MUTED, BYPASSED = 2, 4


class WorkflowError(ValueError):
    pass


def input_specs(info: dict) -> list[tuple[str, list, bool]]:
    """(name, spec, optional) for every input of a node definition, in widget order."""
    out = []
    for group, optional in (("required", False), ("optional", True)):
        for name, spec in info["input"].get(group, {}).items():
            out.append((name, spec, optional))
    return out


def is_widget(spec) -> bool:
    kind = spec[0]
    opts = spec[1] if len(spec) > 1 and isinstance(spec[1], dict) else {}
    return (isinstance(kind, list) or kind in WIDGET_TYPES) and not opts.get("forceInput", False)


def has_control_value(spec) -> bool:
    opts = spec[1] if len(spec) > 1 and isinstance(spec[1], dict) else {}
    return bool(opts.get("control_after_generate"))


def widget_values(node: dict, info: dict) -> dict:
    """Map a UI node's widgets_values onto its widget input names."""
    values = node.get("widgets_values", [])
    if isinstance(values, dict):
        return {name: values[name] for name, spec, _ in input_specs(info) if is_widget(spec) and name in values}
    out, i = {}, 0
    for name, spec, _ in input_specs(info):
        if not is_widget(spec):
            continue
        if i >= len(values):
            break
        out[name] = values[i]
        i += 2 if has_control_value(spec) else 1
    return out


def links_by_id(workflow: dict) -> dict:
    links = {}
    for link in workflow.get("links", []):
        if isinstance(link, dict):
            links[link["id"]] = (link["origin_id"], link["origin_slot"], link.get("type"))
        else:
            links[link[0]] = (link[1], link[2], link[5] if len(link) > 5 else None)
    return links


def convert(workflow: dict, object_info: dict) -> dict:
    """The API prompt for a UI workflow; raises WorkflowError naming what does not fit."""
    if workflow.get("version") == 1 or "definitions" in workflow and workflow["definitions"].get("subgraphs"):
        raise WorkflowError("schema-1 workflows and subgraphs are not supported by this converter")
    nodes = {n["id"]: n for n in workflow["nodes"]}
    links = links_by_id(workflow)

    def source(link_id):
        """Follow reroutes and bypassed nodes to the real (node id, slot), or None."""
        node_id, slot, ltype = links[link_id]
        src = nodes[node_id]
        if src["type"] == "Reroute":
            inp = src["inputs"][0].get("link")
            return None if inp is None else source(inp)
        if src["type"] == "PrimitiveNode" or src.get("mode") == MUTED:
            return None
        if src.get("mode") == BYPASSED:
            for inp in src.get("inputs", []):
                if inp.get("link") is not None and inp.get("type") == ltype:
                    return source(inp["link"])
            return None
        return [str(node_id), slot]

    prompt = {}
    for node in workflow["nodes"]:
        ntype = node["type"]
        if ntype in UI_ONLY or node.get("mode") in (MUTED, BYPASSED):
            continue
        if ntype not in object_info:
            raise WorkflowError(f"node {node['id']}: type {ntype!r} is not installed")
        info = object_info[ntype]
        inputs = widget_values(node, info)
        for inp in node.get("inputs", []):
            if inp.get("link") is not None:
                src = source(inp["link"])
                if src is not None:
                    inputs[inp["name"]] = src
        prompt[str(node["id"])] = {"class_type": ntype, "inputs": inputs,
                                   "_meta": {"title": node.get("title", info.get("display_name", ntype))}}
    return prompt
