"""Quality: each method on and off on the learned demo models (nodes/learned.py), measured with the shapes world's
metrics (nodes/core/world.py) over seeds; the ratio is mean(on) / mean(off) of the method's target metric and
the detail gives both means with 95% confidence intervals, the paired difference with its interval, and the
papers' own figures (different models, data and metrics: for the direction only).
Seeds: TFV_QUALITY_SEEDS (default 16); seed i uses prompt i mod 32. `bash tests/bench.sh quality`."""
import math
import os

import torch

PAPERS = {
    "freeinit": "paper: AnimateDiff UCF-101 DINO consistency 85.24 -> 92.01",
    "fifo": "paper: Latte UCF-101 FVD128 596.64 (vs PVDM-L 648.4), long videos keep per-frame quality",
    "ivmixed": "paper: per-frame quality and motion up on UCF-101/MSR-VTT (tables not retrieved here)",
    "ranking": "paper: I4VGen picks the ImageReward argmax of 16 candidates",
    "nivsds": "paper: I4VGen raises dynamic degree over the static anchor (tables not retrieved here)",
}


def ci95(x: torch.Tensor) -> float:
    return float(1.96 * x.std() / math.sqrt(len(x))) if len(x) > 1 else float("nan")


def row(name: str, rows: list[dict], key: str, paper: str, higher: bool = True) -> dict:
    off = torch.tensor([r["off"][key] for r in rows], dtype=torch.float64)
    on = torch.tensor([r["on"][key] for r in rows], dtype=torch.float64)
    d = on - off
    calls = sum(r["calls_on"] for r in rows) / max(1, sum(r["calls_off"] for r in rows))
    better = (d.mean() > 0) == higher
    return {"benchmark": f"{name}: {key} ({'higher' if higher else 'lower'} is better)",
            "ratio": float(on.mean() / off.mean()) if float(off.mean()) != 0 else float("nan"),
            "detail": f"off {off.mean():.3f}±{ci95(off):.3f}  on {on.mean():.3f}±{ci95(on):.3f}  "
                      f"diff {d.mean():+.3f}±{ci95(d):.3f} ({'better' if better else 'worse'}"
                      f"{'' if abs(float(d.mean())) > ci95(d) else ', within noise'}), n={len(rows)}, "
                      f"{calls:.1f}x calls; {paper}"}


def run() -> list[dict]:
    import learned_lab as lab
    n = int(os.environ.get("TFV_QUALITY_SEEDS", "16"))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    seeds = [(s, lab.PROMPTS[s % len(lab.PROMPTS)]) for s in range(n)]
    out = []
    try:
        for passes in (2, 3):
            rows = [lab.freeinit_effect(s, p, iterations=passes) for s, p in seeds]
            for key in ("consistency", "size_cv", "flicker", "fidelity"):
                out.append(row(f"FreeInit {passes} passes (video_unet, ddim_uniform)", rows, key,
                               PAPERS["freeinit"], key in ("consistency", "fidelity")))
        rows = [lab.freeinit_effect(s, p, iterations=3, fast=True) for s, p in seeds]
        out.append(row("FreeInit 3 passes fast mode (video_unet)", rows, "consistency", PAPERS["freeinit"]))
        rows = [lab.freeinit_effect(s, p, iterations=3, wan=True) for s, p in seeds]
        out.append(row("FreeInit 3 passes (wan21, flow)", rows, "consistency", PAPERS["freeinit"]))
        for mult in (1, 4, 16):
            k = seeds if mult < 16 else seeds[:max(2, n // 4)]
            rows = [lab.fifo_effect(s, p, multiple=mult) for s, p in k]
            for key in ("fidelity", "consistency"):
                out.append(row(f"FIFO {mult}x window ({8 * mult} frames) vs plain same length", rows, key,
                               PAPERS["fifo"]))
        for variant in lab.zigzag.VARIANTS:
            rows = [lab.ivmixed_effect(s, p, variant) for s, p in seeds]
            out.append(row(f"IV-Mixed {variant} vs video model alone", rows, "fidelity", PAPERS["ivmixed"]))
        rows = [lab.nivsds_effect(s, p) for s, p in seeds]
        rank = [{"off": {"fidelity": r["reward_first"]}, "on": {"fidelity": r["reward_best"]},
                 "calls_off": 1, "calls_on": 1} for r in rows]
        out.append(row("I4VGen ranking: best of 8 vs first candidate (world reward)", rank, "fidelity",
                       PAPERS["ranking"]))
        for key in ("speed", "fidelity", "consistency"):
            out.append(row("I4VGen NI-VSDS + regeneration vs regeneration of the static anchor", rows, key,
                           PAPERS["nivsds"]))
    finally:
        torch.set_num_threads(threads)
    return out


if __name__ == "__main__":
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    for r in run():
        print(f"{r['benchmark']:<80} {r['ratio']:8.3f}  {r['detail']}")
