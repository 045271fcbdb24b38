"""Build UI-format (version 0.4) workflows from node definitions, so widget values always fit.

    g = UIGraph(object_info)
    m = g.add("TFV_DemoModelLoader", layout="frames_in_batch")
    k = g.add("KSampler", seed=1, steps=20, ...)
    g.link(m, 0, k, "model")
    g.stage("Sample", [[m], [k]], x=50, y=50)    # places the nodes in columns inside a titled group
    json.dump(g.to_json(), f)

Geometry as the frontend draws it: a node's title bar (NODE_TITLE px) sits above its pos, a group's
title bar (GROUP_TITLE px) is the top of its bounding box. layout_overlaps() checks a workflow.
"""
from workflow_api import has_control_value, input_specs, is_widget

NODE_TITLE = 30    # LiteGraph.NODE_TITLE_HEIGHT: drawn above a node's pos
GROUP_TITLE = 34   # a group's title bar: font_size 24 x 1.4
PAD, GAP = 16, 40  # group padding; space between nodes
DOM_WIDGETS = {"TFV_FreeInit": 150, "TFV_FrequencyMix": 150}  # px the pack's extension adds (filter plot)


def boxes(wf: dict) -> list[tuple[str, list[float]]]:
    """(label, [x, y, w, h]) of every node including its title bar, and of every group's title bar."""
    out = [(f"{n.get('title') or n['type']}#{n['id']}", [n["pos"][0], n["pos"][1] - NODE_TITLE, n["size"][0],
                                                         n["size"][1] + NODE_TITLE]) for n in wf["nodes"]]
    out += [(f"group '{g['title']}' title", [*g["bounding"][:3], GROUP_TITLE]) for g in wf.get("groups", [])]
    return out


def layout_overlaps(wf: dict) -> list[str]:
    """Pairs of nodes / group title bars that overlap, as the frontend would draw them."""
    return overlaps(boxes(wf))


def overlaps(b: list[tuple[str, list[float]]]) -> list[str]:
    """Pairs of (label, [x, y, w, h]) boxes that overlap."""
    hits = []
    for i, (na, (ax, ay, aw, ah)) in enumerate(b):
        for nb, (bx, by, bw, bh) in b[i + 1:]:
            if ax < bx + bw and bx < ax + aw and ay < by + bh and by < ay + ah:
                hits.append(f"{na} overlaps {nb}")
    return hits


class UIGraph:
    def __init__(self, object_info: dict):
        self.info = object_info
        self.nodes: list[dict] = []
        self.links: list[list] = []
        self.groups: list[dict] = []

    def add(self, ntype: str, title: str | None = None, pos=None, size=(320, 200), properties=None,
            **widgets) -> int:
        """Add a node; widgets not given take their defaults. Returns its id."""
        info = self.info[ntype]
        node_id = len(self.nodes) + 1
        values, inputs = [], []
        for name, spec, optional in input_specs(info):
            if is_widget(spec):
                opts = spec[1] if len(spec) > 1 and isinstance(spec[1], dict) else {}
                if name in widgets:
                    value = widgets.pop(name)
                elif "default" in opts:
                    value = opts["default"]
                elif isinstance(spec[0], list):
                    value = spec[0][0]
                elif spec[0] == "COMBO":
                    value = opts["options"][0]
                else:
                    raise ValueError(f"{ntype}.{name} needs a value")
                values.append(value)
                if has_control_value(spec):
                    values.append("fixed")
            else:
                entry = {"name": name, "type": spec[0] if isinstance(spec[0], str) else "COMBO", "link": None}
                if optional:
                    entry["shape"] = 7
                inputs.append(entry)
        if widgets:
            raise ValueError(f"{ntype} has no widget(s) {sorted(widgets)}")
        outputs = [{"name": (info.get("output_name") or info["output"])[i], "type": t, "links": [], "slot_index": i}
                   for i, t in enumerate(info["output"])]
        multiline = sum(1 for _, spec, _ in input_specs(info) if is_widget(spec) and len(spec) > 1
                        and isinstance(spec[1], dict) and spec[1].get("multiline"))
        widgets_n = sum(1 for _, spec, _ in input_specs(info) if is_widget(spec))
        if size == (320, 200):  # at least what the frontend draws, so that stacked nodes do not overlap
            size = (320, 38 + 22 * max(len(inputs), len(info["output"])) + 26 * widgets_n + 100 * multiline
                    + DOM_WIDGETS.get(ntype, 0))
        if title:  # the frontend widens a node to fit its title
            size = (max(size[0], round(7.3 * len(title) + 40)), size[1])
        col, row = divmod(len(self.nodes), 3)
        node = {"id": node_id, "type": ntype, "pos": list(pos or (50 + 380 * col, 50 + 260 * row)),
                "size": list(size), "flags": {}, "order": len(self.nodes), "mode": 0, "inputs": inputs,
                "outputs": outputs, "properties": {"Node name for S&R": ntype, **(properties or {})},
                "widgets_values": values}
        if title:
            node["title"] = title
        self.nodes.append(node)
        return node_id

    def link(self, src: int, slot: int, dst: int, input_name: str) -> int:
        s, d = self.nodes[src - 1], self.nodes[dst - 1]
        ltype = s["outputs"][slot]["type"]
        link_id = len(self.links) + 1
        for inp in d["inputs"]:
            if inp["name"] == input_name:
                inp["link"] = link_id
                break
        else:
            raise ValueError(f"{d['type']} has no socket input {input_name!r}")
        s["outputs"][slot]["links"].append(link_id)
        self.links.append([link_id, src, slot, dst, d["inputs"].index(inp), ltype])
        return link_id

    def note(self, text: str, pos=(50, 50), width: int = 460) -> int:
        """A core MarkdownNote (frontend-only node), tall enough for its text at about 62 characters a line."""
        lines = sum(max(1, -(-len(line) // 62)) for line in text.splitlines())
        node_id = len(self.nodes) + 1
        self.nodes.append({"id": node_id, "type": "MarkdownNote", "title": "Read me", "pos": list(pos),
                           "size": [width, 40 + 17 * lines], "flags": {}, "order": len(self.nodes), "mode": 0,
                           "inputs": [], "outputs": [], "properties": {}, "widgets_values": [text],
                           "color": "#432", "bgcolor": "#653"})
        return node_id

    def size(self, node_id: int) -> list:
        return self.nodes[node_id - 1]["size"]

    def stage(self, title: str, columns: list[list[int]], x: float, y: float) -> tuple[float, float]:
        """Place the nodes column by column (each column stacked top to bottom) inside a group whose
        top-left corner is (x, y); returns the group's right and bottom edges."""
        left, bottom = x + PAD, y
        top = y + GROUP_TITLE + PAD + NODE_TITLE
        for column in columns:
            ny = top
            for i in column:
                self.nodes[i - 1]["pos"] = [left, ny]
                ny += self.size(i)[1] + GAP + NODE_TITLE
            bottom = max(bottom, ny - GAP - NODE_TITLE)
            left += max(self.size(i)[0] for i in column) + GAP
        right = left - GAP + PAD
        self.groups.append({"title": title, "bounding": [x, y, right - x, bottom + PAD - y], "color": "#3f789e",
                            "font_size": 24, "flags": {}})
        return right, bottom + PAD

    def group(self, title: str, node_ids: list[int]):
        """A group around nodes already placed."""
        xs = [self.nodes[i - 1]["pos"][0] for i in node_ids]
        ys = [self.nodes[i - 1]["pos"][1] for i in node_ids]
        x2 = max(self.nodes[i - 1]["pos"][0] + self.size(i)[0] for i in node_ids)
        y2 = max(self.nodes[i - 1]["pos"][1] + self.size(i)[1] for i in node_ids)
        x, y = min(xs) - PAD, min(ys) - NODE_TITLE - PAD - GROUP_TITLE
        self.groups.append({"title": title, "bounding": [x, y, x2 + PAD - x, y2 + PAD - y], "color": "#3f789e",
                            "font_size": 24, "flags": {}})

    def to_json(self) -> dict:
        return {"last_node_id": len(self.nodes), "last_link_id": len(self.links), "nodes": self.nodes,
                "links": self.links, "groups": self.groups, "config": {},
                "extra": {"ds": {"scale": 0.8, "offset": [0, 0]}}, "version": 0.4}
