"""Did each method node in a workflow do its work? Runs an API prompt with its model calls counted per node
(tests/comfy_test_nodes' TFVTest_CountCalls on every MODEL link), and again with every method node
bypassed, and checks the calls each method adds against its documented cost."""
import copy
import itertools

from tfv_core import fifo, sds, zigzag

METHODS = ("TFV_FreeInit", "TFV_IVMixedGuider", "TFV_NIVSDS", "TFV_FIFOSampler")
_runs = itertools.count(1)


def _refs(prompt, ref):
    """(node id, input name) of every input linked to ref = [node id, slot]."""
    return [(nid, k) for nid, n in prompt.items() for k, v in n["inputs"].items() if v == ref]


def _rewire(prompt, old, new):
    for nid, k in _refs(prompt, old):
        prompt[nid]["inputs"][k] = new


def counted(prompt: dict, object_info: dict) -> dict:
    """The prompt with a fresh TFVTest_CountCalls on every MODEL link, so every model call is counted per running
    node, and no node's result comes from the cache or from an identical node (each link's counter differs)."""
    p = copy.deepcopy(prompt)
    run = next(_runs)
    for nid, node in list(p.items()):
        for name, ref in list(node["inputs"].items()):
            if not (isinstance(ref, list) and len(ref) == 2 and ref[0] in prompt):
                continue
            outputs = object_info.get(prompt[ref[0]]["class_type"], {}).get("output", [])
            if ref[1] < len(outputs) and outputs[ref[1]] == "MODEL":
                cid = f"count_{nid}_{name}"
                p[cid] = {"class_type": "TFVTest_CountCalls", "inputs": {"model": ref, "run": run * 1000 + len(p)}}
                node["inputs"][name] = [cid, 0]
    return p


def bypassed(prompt: dict) -> dict:
    """The same graph without its methods: FreeInit and NI-VSDS pass their input through, the IV-Mixed guider
    becomes core CFGGuider over its video model (FIFO has no plain equivalent and stays)."""
    p = copy.deepcopy(prompt)
    for nid, node in list(p.items()):
        t, inp = node["class_type"], node["inputs"]
        if t == "TFV_FreeInit":
            _rewire(p, [nid, 0], inp["model"])
            del p[nid]
        elif t == "TFV_NIVSDS":
            _rewire(p, [nid, 0], inp["latent"])
            del p[nid]
        elif t == "TFV_IVMixedGuider":
            p[nid] = {"class_type": "CFGGuider", "inputs": {"model": inp["video_model"], "cfg": inp["cfg"],
                                                             "positive": inp["video_positive"],
                                                             "negative": inp["video_negative"]}}
    return p


def _steps_of(prompt, sigmas_ref) -> int:
    node = prompt[sigmas_ref[0]]
    assert node["class_type"] == "BasicScheduler", node["class_type"]
    return int(node["inputs"]["steps"])


def expected_extra(prompt: dict, plain: dict) -> dict:
    """Per node id: the model calls the methods must add over the bypassed graph's `plain` counts (FreeInit: a
    multiple of its samplers' plain calls; IV-Mixed: 2 image + 2 more video calls per mixed step; NI-VSDS: one
    call per level; FIFO: its cost formula, counted whole)."""
    extra = {}
    for nid, node in prompt.items():
        t, inp = node["class_type"], node["inputs"]
        if t == "TFV_FreeInit":
            assert not inp["fast_mode"]
            for sid, _ in _refs(prompt, [nid, 0]):
                extra[sid] = extra.get(sid, 0) + (inp["iterations"] - 1) * plain[sid]
        elif t == "TFV_IVMixedGuider":
            for sid, _ in _refs(prompt, [nid, 0]):
                n = _steps_of(prompt, prompt[sid]["inputs"]["sigmas"])
                mixed = zigzag.mixed_steps(n, inp["start_percent"], inp["end_percent"])
                extra[sid] = extra.get(sid, 0) + 4 * len(mixed)
        elif t == "TFV_NIVSDS":
            extra[nid] = sds.iterations(inp["steps"], inp["fraction"])
        elif t == "TFV_FIFOSampler":
            c = fifo.cost(inp["window_frames"], inp["partitions"], inp["lookahead"], inp["windows_per_call"],
                          inp["cfg"] != 1.0, inp["start"])
            frames = c["warmup_iterations"] + inp["num_frames"]
            extra[nid] = c["base_calls"] + frames * c["calls_per_frame"]  # cond and uncond batched
    return extra


def present(prompt: dict) -> list[str]:
    return sorted({n["class_type"] for n in prompt.values() if n["class_type"] in METHODS})
