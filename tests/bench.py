"""The benchmark entry point (README "Benchmarks"): runs tests/benchmarks/bench_*.py and prints one table
of ratios measured in this run. Usage: bash tests/bench.sh [method ...]  (e.g. freeinit fifo)

Each benchmark module has `run() -> list[dict]` with keys benchmark, ratio, detail.
"""
import importlib
import sys
import time
from pathlib import Path

import testenv

HERE = Path(__file__).resolve().parent


def main(names: list[str]) -> int:
    testenv.load_host()
    sys.path.insert(0, str(HERE / "benchmarks"))
    mods = sorted(p.stem for p in (HERE / "benchmarks").glob("bench_*.py"))
    if names:
        mods = [m for m in mods if m.removeprefix("bench_") in names]
    rows = []
    for name in mods:
        t0 = time.time()
        for row in importlib.import_module(name).run():
            rows.append({"module": name.removeprefix("bench_"), **row})
        print(f"[bench] {name} done in {time.time() - t0:.1f} s", file=sys.stderr)
    width = max([len(r["benchmark"]) for r in rows] + [9])
    print(f"{'module':<10} {'benchmark':<{width}} {'ratio':>8}  detail")
    for r in rows:
        print(f"{r['module']:<10} {r['benchmark']:<{width}} {r['ratio']:>8.3f}  {r['detail']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
