"""The frontend in a real browser: every example workflow loads with no missing pack or core node, the
extension registers without console errors, and its widgets react."""
import json
import urllib.request

import pytest

from workflow_checks import external_nodes, workflow_files

FILES = workflow_files()
MISSING_TYPES = """(wf) => wf.nodes.map(n => n.type)
    .filter(t => !["Note", "MarkdownNote", "Reroute", "PrimitiveNode"].includes(t))
    .filter(t => !window.LiteGraph.registered_node_types[t])"""


def test_extension_is_registered_and_served(editor, server):
    names = editor.js("() => window.app.extensions.map(e => e.name)")
    assert "training-free-video.ui" in names
    with urllib.request.urlopen(server.url + "/extensions/training-free-video/training_free_video.js") as r:
        assert b"registerExtension" in r.read()
    for node_id in [k for k in server.get("/object_info") if k.startswith("TFV_")]:  # the node help pages
        with urllib.request.urlopen(f"{server.url}/extensions/training-free-video/docs/{node_id}.md") as r:
            assert r.status == 200 and r.read().startswith(b"# ")
    assert editor.pack_errors() == []


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_workflow_loads_with_no_missing_pack_or_core_nodes(editor, path):
    wf = json.loads(path.read_text())
    editor.js("async (wf) => { await window.app.loadGraphData(wf); }", wf)
    editor.page.wait_for_timeout(500)
    missing = set(editor.js(MISSING_TYPES, wf))
    assert missing <= set(external_nodes()), f"missing node types: {sorted(missing - set(external_nodes()))}"
    loaded = editor.js("() => window.app.graph._nodes.length")
    assert loaded == len(wf["nodes"])
    editor.screenshot(f"workflow_{path.stem}")
    assert editor.pack_errors() == []


def ranking_workflow(object_info, candidates=6):
    from workflow_builder import UIGraph
    g = UIGraph(object_info)
    m = g.add("TFV_DemoModelLoader")
    pos = g.add("TFV_DemoTextEncode", text="sunset clouds")
    lat = g.add("EmptyLatentImage", width=64, height=64, batch_size=candidates)
    k = g.add("KSampler", seed=5, steps=6, cfg=2.0)
    dec = g.add("TFV_DemoDecode")
    rm = g.add("TFV_RewardModelLoader")
    rank = g.add("TFV_RankByReward", prompt="sunset clouds", top_k=2)
    for src, slot, dst, name in [(m, 0, k, "model"), (pos, 0, k, "positive"), (pos, 0, k, "negative"),
                                 (lat, 0, k, "latent_image"), (m, 1, dec, "decoder"), (k, 0, dec, "samples"),
                                 (rm, 0, rank, "reward_model"), (dec, 0, rank, "images"), (k, 0, rank, "latents")]:
        g.link(src, slot, dst, name)
    return g.to_json()


def test_ranking_result_renders_the_gallery(editor, server):
    wf = ranking_workflow(server.get("/object_info"))
    editor.js("async (wf) => { await window.app.loadGraphData(wf); }", wf)
    editor.js("async () => { await window.app.queuePrompt(0, 1); }")
    editor.page.wait_for_selector(".tfv-rank-cell", timeout=120000)
    editor.page.wait_for_function("() => document.querySelectorAll('.tfv-rank-cell img').length === 6 &&"
                                  " [...document.querySelectorAll('.tfv-rank-cell img')].every(i => i.complete)",
                                  timeout=30000)
    cells = editor.js("""() => [...document.querySelectorAll('.tfv-rank-cell')].map(c =>
        ({index: +c.dataset.index, winner: c.classList.contains('tfv-winner'), label: c.textContent}))""")
    assert len(cells) == 6 and sorted(c["index"] for c in cells) == list(range(6))
    assert [c["winner"] for c in cells] == [True, True, False, False, False, False]
    assert cells[0]["label"].startswith("#1") and "\u2605" in cells[0]["label"]
    editor.screenshot("ranking_gallery")
    assert editor.pack_errors() == []


def add_node(editor, node_type):
    editor.js("(t) => { window.app.graph.clear(); const n = window.LiteGraph.createNode(t);"
              " window.app.graph.add(n); n.pos = [40, 40]; window.tfvNode = n; }", node_type)


def set_widget(editor, name, value):
    editor.js("([name, value]) => { const w = window.tfvNode.widgets.find(w => w.name === name); w.value = value;"
              " w.callback?.(value); }", [name, value])


@pytest.mark.parametrize("node_type", ["TFV_FreeInit", "TFV_FrequencyMix"])
def test_filter_profile_follows_the_widgets(editor, node_type):
    add_node(editor, node_type)
    profile = lambda: editor.js("() => window.tfvNode.tfvProfile")
    first = profile()
    assert len(first["spatial"]) == 101 and first["spatial"][50] == pytest.approx(1.0)
    set_widget(editor, "d_s", 0.5)
    wider = profile()
    assert wider["spatial"] != first["spatial"] and wider["temporal"] == first["temporal"]
    assert sum(wider["spatial"]) > sum(first["spatial"])
    set_widget(editor, "filter", "ideal")
    assert set(profile()["spatial"]) == {0, 1}
    set_widget(editor, "d_t", 0.1)
    assert sum(profile()["temporal"]) < sum(wider["temporal"])
    editor.screenshot(f"filter_profile_{node_type}", scale=1.2)
    assert editor.pack_errors() == []


def test_fifo_node_shows_its_step_count_and_cost(editor):
    add_node(editor, "TFV_FIFOSampler")
    text = lambda: editor.page.inner_text(".tfv-fifo-cost")
    cost = lambda: editor.js("() => window.tfvNode.tfvCost")
    assert cost() == {"steps": 64, "windows": 8, "calls": 8} and "f\u00b7n = 64" in text()
    set_widget(editor, "partitions", 2)
    assert cost()["steps"] == 32 and "= 32" in text()
    set_widget(editor, "lookahead", False)
    assert cost() == {"steps": 32, "windows": 2, "calls": 2}
    set_widget(editor, "windows_per_call", 2)
    assert cost()["calls"] == 1 and "per output frame = 1" in text()
    editor.screenshot("fifo_cost", scale=1.2)
    assert editor.pack_errors() == []


def test_fifo_cost_in_the_browser_equals_the_core_formula(editor):
    from tfv_core.fifo import cost
    js_cost = editor.js("""async (cases) => {
        const mod = await import('/extensions/training-free-video/training_free_video.js');
        return cases.map(([f, n, la, w]) => mod.fifoCost(f, n, la, w)); }""",
                        [[16, 4, True, 1], [16, 4, False, 3], [7, 3, True, 4], [24, 1, True, 9]])
    for (f, n, la, w), got in zip([(16, 4, True, 1), (16, 4, False, 3), (7, 3, True, 4), (24, 1, True, 9)], js_cost):
        ref = cost(f, n, la, w)
        assert (got["steps"], got["windows"], got["calls"]) == \
            (ref["steps"], ref["windows_per_step"], ref["calls_per_frame"])
