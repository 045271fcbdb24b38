"""Widget values checked against what a node declares: combo values among its options, numbers finite and
within min/max. ComfyUI 0.3.75 does not check V3 combo values sent over its API, lets a JSON NaN through its
range checks and checks no value that arrives over a link, so every node runs these first. Pure Python."""
import math
from dataclasses import dataclass

COMBO, INT, FLOAT, BOOLEAN = "combo", "int", "float", "boolean"
LISTED = 12  # options named in a message; longer lists are summarised


@dataclass(frozen=True)
class Spec:
    """One declared input: its name, kind (COMBO, INT, FLOAT, BOOLEAN), options or min/max, and optionality."""
    name: str
    kind: str
    options: tuple = ()
    min: float | None = None
    max: float | None = None
    optional: bool = False


def number(x) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


def allowed_range(spec: Spec) -> str:
    lo, hi = spec.min, spec.max
    if lo is not None and hi is not None:
        return f"from {number(lo)} to {number(hi)}"
    if lo is not None:
        return f"of at least {number(lo)}"
    if hi is not None:
        return f"of at most {number(hi)}"
    return "that is finite"


def options_text(options) -> str:
    names = [repr(o) for o in options]
    if len(names) <= LISTED:
        return ", ".join(names)
    return f"{', '.join(names[:LISTED])}, ... ({len(names)} options, listed in the node's menu)"


def problem(spec: Spec, value) -> str | None:
    """What is wrong with `value` for `spec` as '<input>: <what is wrong>: <what to change>', or None."""
    name = spec.name
    if value is None:
        return None if spec.optional else f"{name}: no value was given: set it or connect an input."
    if spec.kind == COMBO:
        if any(type(value) is type(o) and value == o for o in spec.options):
            return None
        return f"{name}: {value!r} is not one of its options: choose one of {options_text(spec.options)}."
    if spec.kind == BOOLEAN:
        return None if isinstance(value, bool) else f"{name}: expected true or false, got {value!r}."
    if spec.kind not in (INT, FLOAT):
        return None
    what = "a whole number" if spec.kind == INT else "a number"
    fix = f"enter {what} {allowed_range(spec)}."
    kinds = int if spec.kind == INT else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds):
        return f"{name}: expected {what}, got {value!r}: {fix}"
    if not math.isfinite(value):
        shown = "NaN" if math.isnan(value) else number(value)
        return f"{name}: {shown} is not a finite number: {fix}"
    if spec.min is not None and value < spec.min:
        return f"{name}: {number(value)} is below the minimum {number(spec.min)}: {fix}"
    if spec.max is not None and value > spec.max:
        return f"{name}: {number(value)} is above the maximum {number(spec.max)}: {fix}"
    return None


def first_problem(specs, values: dict) -> str | None:
    """The first problem among the declared inputs, in declaration order, or None when all are fine."""
    for spec in specs:
        message = problem(spec, values.get(spec.name))
        if message:
            return message
    return None
