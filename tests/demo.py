"""The demo command (README "Run"): runs every workflows/demo_*.json on a real ComfyUI server with the
weight-free demo model and writes an animated WebP per output plus a table of timings and figures.

Usage: bash tests/demo.sh [--gallery] [name ...]   (names like demo_freeinit; default: all)
--gallery also refreshes the README's gallery (js/docs/gallery/<output>.webp).
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

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "demo_output"
GALLERY = REPO / "js" / "docs" / "gallery"


def webp_figures(path: Path) -> dict:
    """Frame count, size, and temporal smoothness (mean absolute change between frames, 0-255)."""
    with Image.open(path) as im:
        frames = [np.asarray(f.convert("RGB"), dtype=np.float32) for f in ImageSequence.Iterator(im)]
    v = np.stack(frames)
    change = float(np.abs(np.diff(v, axis=0)).mean()) if len(v) > 1 else 0.0
    return {"frames": len(v), "size": f"{v.shape[2]}x{v.shape[1]}", "frame_change": round(change, 2),
            "contrast": round(float(v.std()), 1)}


def main(names: list[str], gallery: bool = False) -> int:
    testenv.load_host()
    from comfy_server import ComfyServer
    from workflow_api import convert
    files = sorted((REPO / "workflows").glob("demo_*.json"))
    if names:
        files = [f for f in files if f.stem in names]
    if not files:
        print("no demo workflows matched", names)
        return 1
    OUT.mkdir(exist_ok=True)
    rows, failed = [], 0
    with ComfyServer() as srv:
        info = srv.get("/object_info")
        for wf in files:
            prompt = convert(json.loads(wf.read_text()), info)
            t0 = time.time()
            try:
                entry = srv.run(prompt, timeout=900)
            except Exception as e:  # report and go on with the other workflows
                failed += 1
                print(f"FAILED {wf.name}: {e}")
                continue
            seconds = time.time() - t0
            for src in srv.output_files(entry):
                dst = OUT / f"{wf.stem}__{src.name}"
                shutil.copy(src, dst)
                rows.append({"workflow": wf.name, "file": dst.name, "seconds": round(seconds, 1),
                             **(webp_figures(dst) if dst.suffix == ".webp" else {})})
                if gallery and dst.suffix == ".webp":
                    GALLERY.mkdir(parents=True, exist_ok=True)
                    shutil.copy(dst, GALLERY / re.sub(r"_\d+_\.webp$", ".webp", src.name))
    cols = ["workflow", "file", "seconds", "frames", "size", "frame_change", "contrast"]
    table = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    table += ["| " + " | ".join(str(r.get(c, "")) for c in cols) + " |" for r in rows]
    note = ("seconds: wall time of the whole workflow on this machine; frame_change: mean absolute RGB change "
            "between neighbouring frames (0-255, lower = smoother); contrast: RGB standard deviation.")
    (OUT / "summary.md").write_text("# Demo results\n\n" + "\n".join(table) + "\n\n" + note + "\n")
    (OUT / "summary.json").write_text(json.dumps(rows, indent=1))
    print("\n".join(table))
    print(f"\n{len(rows)} files from {len(files) - failed}/{len(files)} workflows in {OUT}")
    return 1 if failed else 0


if __name__ == "__main__":
    args = sys.argv[1:]
    sys.exit(main([a for a in args if a != "--gallery"], gallery="--gallery" in args))
