"""Build UI-format (version 0.4) workflows from node definitions, so widget values always fit.

    g = UIGraph(object_info)
    m = g.add("TFV_DemoModelLoader", layout="frames_in_batch")
    k = g.add("KSampler", seed=1, steps=20, ...)
    g.link(m, 0, k, "model")
    json.dump(g.to_json(), f)
"""
from workflow_api import has_control_value, input_specs, is_widget


class UIGraph:
    def __init__(self, object_info: dict):
        self.info = object_info
        self.nodes: list[dict] = []
        self.links: list[list] = []
        self.groups: list[dict] = []

    def add(self, ntype: str, title: str | None = None, pos=None, size=(320, 200), **widgets) -> int:
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
        col, row = divmod(len(self.nodes), 3)
        node = {"id": node_id, "type": ntype, "pos": list(pos or (50 + 380 * col, 50 + 260 * row)),
                "size": list(size), "flags": {}, "order": len(self.nodes), "mode": 0, "inputs": inputs,
                "outputs": outputs, "properties": {"Node name for S&R": ntype}, "widgets_values": values}
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

    def group(self, title: str, node_ids: list[int]):
        xs = [self.nodes[i - 1]["pos"][0] for i in node_ids]
        ys = [self.nodes[i - 1]["pos"][1] for i in node_ids]
        self.groups.append({"title": title, "bounding": [min(xs) - 20, min(ys) - 60,
                                                         max(xs) - min(xs) + 370, max(ys) - min(ys) + 300],
                            "color": "#3f789e", "font_size": 24, "flags": {}})

    def to_json(self) -> dict:
        return {"last_node_id": len(self.nodes), "last_link_id": len(self.links), "nodes": self.nodes,
                "links": self.links, "groups": self.groups, "config": {},
                "extra": {"ds": {"scale": 0.8, "offset": [0, 0]}}, "version": 0.4}
