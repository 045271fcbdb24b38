"""The demo command (README "Run"): runs every demo workflow (workflows/Demo *.json) on a real ComfyUI
server with the weight-free demo model and writes an animated WebP per output plus a table of timings and
figures.

Usage: bash tests/demo.sh [--gallery] [--thumbnails] [name ...]   (names like demo_freeinit; default: all)
--gallery also refreshes the README's gallery (js/docs/gallery/<output>.webp); --thumbnails writes the
template browser's thumbnails (workflows/<name>.jpg): the demos' from their output frames, the others'
as diagrams of their stages.
"""
import json
import re
import shutil
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageSequence

import testenv
import thumbnails
from make_workflows import WORKFLOWS, path_of

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "demo_output"
GALLERY = REPO / "js" / "docs" / "gallery"
LABELS = {"demo_ksampler": ["frames in the batch, EPS", "5D, flow"], "demo_freeinit": ["with FreeInit", "without"],
          "demo_i4vgen": ["with NI-VSDS", "without"], "demo_metrics_freeinit": ["with FreeInit", "without"],
          "demo_metrics_fifo": ["FIFO-Diffusion", "3 clips joined"], "demo_metrics_ivmixed": ["IV-Mixed", "video model alone"],
          "demo_metrics_i4vgen": ["I4VGen", "plain text-to-video"]}


def webp_figures(path: Path) -> dict:
    """Frame count, size, and temporal smoothness (mean absolute change between frames, 0-255)."""
    with Image.open(path) as im:
        frames = [np.asarray(f.convert("RGB"), dtype=np.float32) for f in ImageSequence.Iterator(im)]
    v = np.stack(frames)
    change = float(np.abs(np.diff(v, axis=0)).mean()) if len(v) > 1 else 0.0
    return {"frames": len(v), "size": f"{v.shape[2]}x{v.shape[1]}", "frame_change": round(change, 2),
            "contrast": round(float(v.std()), 1)}


def write_diagrams() -> None:
    """Thumbnails of the workflows that need downloads: their stages and what they need."""
    for key, (title, _) in WORKFLOWS.items():
        if not key.startswith("demo_"):
            wf = json.loads(path_of(key).read_text())
            thumbnails.save(thumbnails.diagram(title, thumbnails.stages(wf), thumbnails.needs(wf)),
                            path_of(key).with_suffix(".jpg"))


def main(names: list[str], gallery: bool = False, thumbs: bool = False) -> int:
    testenv.load_host()
    from comfy_server import ComfyServer
    from workflow_api import convert
    keys = [k for k in WORKFLOWS if k.startswith("demo_") and (not names or k in names)]
    if not keys:
        print("no demo workflows matched", names)
        return 1
    if thumbs:
        write_diagrams()
    OUT.mkdir(exist_ok=True)
    rows, failed = [], 0
    with ComfyServer() as srv:
        info = srv.get("/object_info")
        for key in keys:
            wf = path_of(key)
            prompt = convert(json.loads(wf.read_text()), info)
            t0 = time.time()
            try:
                entry = srv.run(prompt, timeout=900)
            except Exception as e:  # report and go on with the other workflows
                failed += 1
                print(f"FAILED {wf.name}: {e}")
                continue
            seconds = time.time() - t0
            videos = []
            for src in srv.output_files(entry):
                dst = OUT / f"{key}__{src.name}"
                shutil.copy(src, dst)
                rows.append({"workflow": key, "file": dst.name, "seconds": round(seconds, 1),
                             **(webp_figures(dst) if dst.suffix == ".webp" else {})})
                videos += [dst] if dst.suffix == ".webp" else []
                if gallery and dst.suffix == ".webp":
                    GALLERY.mkdir(parents=True, exist_ok=True)
                    shutil.copy(dst, GALLERY / re.sub(r"_\d+_\.webp$", ".webp", src.name))
            if thumbs and videos:
                videos.sort(key=lambda v: ("without" in v.name or "_off_" in v.name, v.name))  # method first
                im = thumbnails.from_outputs(videos, WORKFLOWS[key][0], LABELS.get(key))
                thumbnails.save(im, wf.with_suffix(".jpg"))
    cols = ["workflow", "file", "seconds", "frames", "size", "frame_change", "contrast"]
    table = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    table += ["| " + " | ".join(str(r.get(c, "")) for c in cols) + " |" for r in rows]
    note = ("seconds: wall time of the whole workflow on this machine; frame_change: mean absolute RGB change "
            "between neighbouring frames (0-255, lower = smoother); contrast: RGB standard deviation.")
    (OUT / "summary.md").write_text("# Demo results\n\n" + "\n".join(table) + "\n\n" + note + "\n")
    (OUT / "summary.json").write_text(json.dumps(rows, indent=1))
    print("\n".join(table))
    print(f"\n{len(rows)} files from {len(keys) - failed}/{len(keys)} workflows in {OUT}")
    return 1 if failed else 0


if __name__ == "__main__":
    args = sys.argv[1:]
    sys.exit(main([a for a in args if not a.startswith("--")], gallery="--gallery" in args,
                  thumbs="--thumbnails" in args))
