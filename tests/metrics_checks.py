"""Reading Compare Videos results out of a finished prompt (server tier and the metrics table script)."""


def comparisons(entry: dict) -> list[str]:
    """The Markdown tables of every Compare Videos node in a /history entry."""
    out = []
    for node in entry.get("outputs", {}).values():
        out += [t for t in node.get("text", []) if isinstance(t, str) and "| metric |" in t and "Δ" in t]
    return out


def changed_metrics(table: str) -> list[str]:
    """Metric names whose Δ against the first video is not zero."""
    changed = []
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 4 or cells[0] in ("metric", "") or cells[0].startswith("---"):
            continue
        head = next(line for line in table.splitlines() if line.startswith("| metric |"))
        n_delta = head.count("Δ")
        if any(c not in ("–", "") and float(c) != 0 for c in cells[-n_delta:]):
            changed.append(cells[0])
    return changed
