"""Writes the workflows that the lead maintains (workflows/demo_ksampler.json, ...) from live node
definitions, so their widget values always fit. Usage: .host/venv/bin/python tests/make_workflows.py"""
import json
import sys
from pathlib import Path

import testenv

REPO = Path(__file__).resolve().parents[1]


def demo_ksampler(g):
    """Plain KSampler video on the demo model, in both latent layouts."""
    for row, (layout, par, latent) in enumerate([("frames_in_batch", "eps", "EmptyLatentImage"),
                                                  ("video_5d", "flow", "EmptyHunyuanLatentVideo")]):
        y = 50 + 420 * row
        m = g.add("TFV_DemoModelLoader", pos=(50, y), layout=layout, parameterization=par)
        pos = g.add("TFV_DemoTextEncode", pos=(50, y + 230), text="sunset clouds")
        neg = g.add("TFV_DemoTextEncode", pos=(420, y + 230), text="")
        if latent == "EmptyLatentImage":
            lat = g.add(latent, pos=(420, y), width=128, height=128, batch_size=16)
        else:
            lat = g.add(latent, pos=(420, y), width=128, height=128, length=61, batch_size=1)
        k = g.add("KSampler", pos=(790, y), seed=1, steps=20, cfg=2.5, sampler_name="euler", scheduler="normal")
        dec = g.add("TFV_DemoDecode", pos=(1160, y))
        save = g.add("SaveAnimatedWEBP", pos=(1480, y), filename_prefix=f"demo_ksampler_{layout}", fps=8.0)
        for src, slot, dst, name in [(m, 0, k, "model"), (pos, 0, k, "positive"), (neg, 0, k, "negative"),
                                     (lat, 0, k, "latent_image"), (m, 1, dec, "decoder"), (k, 0, dec, "samples"),
                                     (dec, 0, save, "images")]:
            g.link(src, slot, dst, name)
        g.group(f"{layout} / {par}", [m, lat, k, dec, save, pos, neg])


WORKFLOWS = {"demo_ksampler": demo_ksampler}


def main(names):
    testenv.load_host()
    from comfy_server import ComfyServer
    from workflow_builder import UIGraph
    with ComfyServer() as srv:
        info = srv.get("/object_info")
    for name in names or WORKFLOWS:
        g = UIGraph(info)
        WORKFLOWS[name](g)
        path = REPO / "workflows" / f"{name}.json"
        path.write_text(json.dumps(g.to_json(), indent=1) + "\n")
        print("wrote", path.relative_to(REPO))


if __name__ == "__main__":
    main(sys.argv[1:])
