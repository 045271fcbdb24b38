"""host.check_inputs on every node of the pack: each declared combo, integer and float input refuses what it does
not declare, with '[Node] input: what to change', before the node does anything."""
import ast
import inspect
import math
import textwrap

import pytest
import torch

from testenv import REPO


@pytest.fixture(scope="module")
def nodes(pack):
    from training_free_video.nodes import node_list
    return node_list()


@pytest.fixture(scope="module")
def host(pack):
    from training_free_video.nodes import host
    return host


def defaults(schema):
    """Declared defaults for the widgets; non-widget inputs get a sentinel that any use would trip over."""
    return {i.id: getattr(i, "default", None) if hasattr(i, "default") else object() for i in schema.inputs}


def bad_values(host, schema):
    """(input, bad value) pairs for every checkable input of a schema."""
    out = []
    for spec in host.input_specs(schema):
        if spec.kind == "combo":
            out += [(spec.name, "bogus"), (spec.name, "../../etc/passwd")]
        elif spec.kind in ("int", "float"):
            out += [(spec.name, math.nan if spec.kind == "float" else "12"), (spec.name, math.inf)]
            if spec.min is not None:
                out.append((spec.name, spec.min - 1))
            if spec.max is not None:
                out.append((spec.name, spec.max + 1))
        elif spec.kind == "boolean":
            out.append((spec.name, "false"))
    return out


def test_every_node_checks_every_declared_input_first(nodes, host):
    cases = 0
    for node in nodes:
        schema = node.define_schema()
        for name, value in bad_values(host, schema):
            values = dict(defaults(schema), **{name: value})
            with pytest.raises(host.NodeInputError) as e:
                node.execute(**values)
            if name in getattr(node, "SELF_CHECKED", ()):                  # the node's own message
                assert str(e.value).startswith(f"[{schema.display_name}] ") and repr(value) in str(e.value)
            else:
                assert str(e.value).startswith(f"[{schema.display_name}] {name}: "), str(e.value)
            cases += 1
    assert cases >= 60


def test_every_execute_starts_with_the_check(nodes):
    for node in nodes:
        fn = ast.parse(textwrap.dedent(inspect.getsource(node.execute))).body[0]
        body = [s for s in fn.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
        first = ast.unparse(body[0])
        assert first.startswith("host.check_inputs(cls, "), f"{node.__name__}.execute starts with {first}"


def test_the_checked_inputs_are_the_ones_objects_info_lists(nodes, host):
    """Combos carry their options, numbers their min and max, as the schema declares them (one source of truth)."""
    import comfy.samplers
    from training_free_video.nodes import fifo
    specs = {s.name: s for s in host.input_specs(fifo.FIFOSampler.define_schema())}
    assert specs["scheduler"].options == tuple(comfy.samplers.SCHEDULER_NAMES)
    assert (specs["num_frames"].min, specs["num_frames"].max) == (1, 1000000)
    assert (specs["cfg"].kind, specs["cfg"].min, specs["cfg"].max) == ("float", 0.0, 100.0)
    assert specs["lookahead"].kind == "boolean" and "model" not in specs and "latent" not in specs


def test_dropdowns_that_used_to_run_silently_are_refused(pack, host):
    from training_free_video.nodes import demo, reward
    with pytest.raises(host.NodeInputError, match=r"^\[Demo Video Model \(analytic, no weights\)\] layout: 'bogus'"):
        demo.DemoModelLoader.execute("bogus", "eps", 0.9, 2.0, 3.0)
    with pytest.raises(host.NodeInputError, match=r"^\[Load Reward Model\] precision: 'bogus' is not one of"):
        reward.RewardModelLoader.execute(reward.rm.DEMO_NAME, "auto", "bogus")
    with pytest.raises(host.NodeInputError, match=r"^\[Load Reward Model\] no folder '\.\./\.\./x' in"):
        reward.RewardModelLoader.execute("../../x", "auto", "auto")


def test_fifo_does_not_know_the_demo_model():
    tree = ast.parse((REPO / "nodes" / "fifo.py").read_text())
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names}
    modules = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert "demo" not in modules and "AnalyticNet" not in imported and ".demo" not in modules


def test_per_frame_timesteps_is_asked_of_the_model(host):
    from comfy_test_nodes import tiny_models
    from training_free_video.nodes import demo
    assert host.per_frame_timesteps(demo.demo_model("video_5d", "flow"))
    assert host.per_frame_timesteps(tiny_models.tiny_wan())
    m = demo.demo_model("video_5d", "flow")
    m.model.diffusion_model = torch.nn.Identity()                  # says nothing, is not ComfyUI's Wan
    assert not host.per_frame_timesteps(m)
    m.model.diffusion_model.per_frame_timesteps = True             # a network that declares it
    assert host.per_frame_timesteps(m)


@pytest.mark.parametrize("latent,message", [
    (torch.zeros(2, 64, 10), "samples: this decoder belongs to a frames_in_batch demo model"),
    (torch.zeros(1, 4, 3, 2, 2), "samples: this decoder belongs to a frames_in_batch demo model"),
    (torch.zeros(3, 16, 2, 2), "samples: the latent has 16 channels but this decoder expects 4"),
])
def test_demo_decode_checks_layout_and_channels(pack, host, latent, message):
    from training_free_video.nodes import demo
    _, decoder = demo.DemoModelLoader.execute("frames_in_batch", "eps", 0.9, 2.0, 3.0).result
    with pytest.raises(host.NodeInputError, match=r"^\[Demo Decode\] " + message):
        demo.DemoDecode.execute(decoder, {"samples": latent})
    assert demo.DemoDecode.execute(decoder, {"samples": torch.zeros(3, 4, 2, 2)}).result[0].shape == (3, 16, 16, 3)


def test_layout_messages_name_the_input(host):
    from comfy_test_nodes import tiny_models
    ad = tiny_models.tiny_animatediff()
    with pytest.raises(host.NodeInputError, match=r"^\[N\] latent: this is an image latent"):
        host.video_layout(ad, torch.zeros(1, 4, 8, 8), "N", name="latent")
    with pytest.raises(host.NodeInputError, match=r"^\[N\] latent: the latent has 16 channels"):
        host.video_layout(ad, torch.zeros(6, 16, 8, 8), "N", name="latent")
