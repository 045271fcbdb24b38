"""The input-checking helper: combo values among the declared options, numbers finite and within min/max."""
import math

import pytest

from tfv_core import checks as C

VARIANT = C.Spec("variant", C.COMBO, ("IVIV", "IIVV"))
CFG = C.Spec("cfg", C.FLOAT, (), 0.0, 100.0)
FRAMES = C.Spec("num_frames", C.INT, (), 1, 1000000)
FLAG = C.Spec("lookahead", C.BOOLEAN)
LATENT = C.Spec("latent", "other")


@pytest.mark.parametrize("spec,value", [
    (VARIANT, "IVIV"), (VARIANT, "IIVV"), (CFG, 0.0), (CFG, 100.0), (CFG, 7), (FRAMES, 1), (FRAMES, 1000000),
    (FLAG, True), (LATENT, {"samples": 1}), (C.Spec("x", C.FLOAT, (), None, None, True), None),
    (C.Spec("x", C.FLOAT), -1e300),
])
def test_declared_values_pass(spec, value):
    assert C.problem(spec, value) is None


@pytest.mark.parametrize("spec,value,words", [
    (VARIANT, "bogus", ["variant: 'bogus' is not one of its options", "choose one of 'IVIV', 'IIVV'"]),
    (VARIANT, "ivi", ["'ivi'"]),
    (VARIANT, 1, ["1 is not one of"]),
    (VARIANT, None, ["variant: no value was given"]),
    (CFG, math.nan, ["cfg: NaN is not a finite number", "enter a number from 0 to 100"]),
    (CFG, math.inf, ["cfg: inf is not a finite number"]),
    (CFG, -math.inf, ["cfg: -inf is not a finite number"]),
    (CFG, -0.5, ["cfg: -0.5 is below the minimum 0", "from 0 to 100"]),
    (CFG, 100.01, ["cfg: 100.01 is above the maximum 100"]),
    (CFG, "7.5", ["cfg: expected a number, got '7.5'"]),
    (CFG, True, ["expected a number, got True"]),
    (FRAMES, 0, ["num_frames: 0 is below the minimum 1", "enter a whole number from 1 to 1000000"]),
    (FRAMES, 3.0, ["num_frames: expected a whole number, got 3.0"]),
    (FRAMES, 2000000, ["above the maximum 1000000"]),
    (FLAG, "false", ["lookahead: expected true or false, got 'false'"]),
    (C.Spec("d", C.FLOAT, (), 0.5, None), 0.1, ["of at least 0.5"]),
    (C.Spec("d", C.FLOAT, (), None, 2.0), math.nan, ["of at most 2"]),
])
def test_bad_values_name_the_input_and_the_fix(spec, value, words):
    message = C.problem(spec, value)
    assert message is not None and message.startswith(spec.name + ": ")
    for w in words:
        assert w in message, message


def test_long_option_lists_are_summarised():
    spec = C.Spec("model_name", C.COMBO, tuple(f"m{i}" for i in range(40)))
    message = C.problem(spec, "../../etc")
    assert "'../../etc' is not one of its options" in message and "(40 options" in message
    assert "'m11'" in message and "'m12'" not in message


def test_first_problem_follows_declaration_order():
    specs = [VARIANT, CFG, FRAMES]
    assert C.first_problem(specs, {"variant": "IVIV", "cfg": 1.0, "num_frames": 4}) is None
    assert C.first_problem(specs, {"variant": "IVIV", "cfg": math.nan, "num_frames": 0}).startswith("cfg:")
    assert C.first_problem(specs, {"variant": "x", "cfg": math.nan}).startswith("variant:")

