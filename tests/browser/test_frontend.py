"""The frontend in a real browser: every example workflow loads with no missing pack or core node, the
extension registers without console errors, and its widgets react."""
import json
import urllib.request
from urllib.parse import unquote

import pytest

from workflow_builder import overlaps
from workflow_checks import external_nodes, workflow_files

FILES = workflow_files()
REPO_DOCS = workflow_files()[0].parents[1] / "js" / "docs"
PACK = "training-free-video"  # the pack's folder name in custom_nodes: its template category
ADE_FILES = [f for f in FILES if "ADE_" in f.read_text()]
DEMO_FILES = [f for f in FILES if f.stem.startswith("Demo ")]
# Every node with its title bar and every group's title bar, as the frontend laid them out.
DRAWN_BOXES = """() => [
    ...window.app.graph._nodes.map(n => [`${n.title}#${n.id}`,
        [n.pos[0], n.pos[1] - window.LiteGraph.NODE_TITLE_HEIGHT, n.size[0], n.size[1] + window.LiteGraph.NODE_TITLE_HEIGHT]]),
    ...window.app.graph._groups.map(g => [`group '${g.title}' title`, [g.pos[0], g.pos[1], g.size[0], g.titleHeight]])]"""
CARD_PICTURE = """(title) => { const t = [...document.querySelectorAll('[role=dialog] *')]
    .find(e => e.children.length === 0 && e.textContent.trim() === title);
    let card = t; while (card && !card.querySelector('img')) card = card.parentElement;
    const img = card?.querySelector('img'); return !!img && img.complete && img.naturalWidth >= 256; }"""
NOTE_TEXT = """() => window.app.graph._nodes.filter(n => n.type === 'MarkdownNote').map(n => n.widgets[0].value)"""


def load(editor, wf, nodes_dialog=False, models_dialog=False):
    editor.js("async ([wf, n, m]) => { await window.app.loadGraphData(wf, true, true, null,"
              " {showMissingNodesDialog: n, showMissingModelsDialog: m}); }", [wf, nodes_dialog, models_dialog])
    editor.page.wait_for_timeout(500)


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
def test_workflow_loads_with_its_note_and_nothing_overlapping(editor, path):
    wf = json.loads(path.read_text())
    load(editor, wf)
    missing = set(editor.js(MISSING_TYPES, wf))
    assert missing <= set(external_nodes()), f"missing node types: {sorted(missing - set(external_nodes()))}"
    loaded = editor.js("() => window.app.graph._nodes.length")
    assert loaded == len(wf["nodes"])
    notes = editor.js(NOTE_TEXT)
    assert len(notes) == 1 and "**What it shows.**" in notes[0] and "**Model files" in notes[0]
    assert editor.page.locator(".comfy-markdown").first.inner_text().strip() != ""  # rendered, not raw
    assert overlaps(editor.js(DRAWN_BOXES)) == []
    editor.screenshot(f"workflow_{path.stem}")
    assert editor.pack_errors() == []


def test_template_browser_shows_every_workflow_with_a_thumbnail_and_readable_title(editor):
    thumbs = {}

    def on_response(r):
        if f"/api/workflow_templates/{PACK}/" in r.url and r.url.endswith(".jpg"):
            thumbs[unquote(r.url.rsplit("/", 1)[1])] = (r.status, r.headers.get("content-type"))
    editor.page.on("response", on_response)
    editor.js("async () => { await window.app.extensionManager.command.execute('Comfy.BrowseTemplates'); }")
    editor.page.get_by_text(PACK, exact=True).click()
    for f in FILES:  # the card's title is the file name, its picture the thumbnail (cards load when seen)
        title = editor.page.get_by_text(f.stem, exact=True).first
        title.wait_for(timeout=30000)
        title.scroll_into_view_if_needed()
        editor.page.wait_for_function(CARD_PICTURE, arg=f.stem, timeout=30000)
    assert thumbs == {f"{f.stem}.jpg": (200, "image/jpeg") for f in FILES}
    editor.page.screenshot(path=str(editor_artifacts() / "template_browser.png"))
    editor.page.get_by_text(DEMO_FILES[1].stem, exact=True).first.click()  # a card opens its workflow
    editor.page.wait_for_function("() => window.app.graph._nodes.some(n => n.type === 'MarkdownNote')",
                                  timeout=30000)
    assert editor.js(NOTE_TEXT)[0].startswith("## " + DEMO_FILES[1].stem.split(",")[0])
    assert editor.pack_errors() == []


def editor_artifacts():
    from browser.conftest import ARTIFACTS
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.mark.parametrize("path", ADE_FILES[:1], ids=[f.stem for f in ADE_FILES[:1]])
def test_animatediff_workflow_without_the_pack_names_it(editor, path):
    """The test host has no AnimateDiff-Evolved: the missing-nodes dialog lists its node, the node on the
    canvas names the pack, and the frontend asks the registry for the pack by the id the node carries."""
    asked = []
    editor.page.on("request", lambda r: asked.append(unquote(r.url)))
    load(editor, json.loads(path.read_text()), nodes_dialog=True)
    dialog = editor.page.locator(".comfy-missing-nodes")
    dialog.wait_for(timeout=30000)
    assert "ADE_AnimateDiffLoaderGen1" in dialog.inner_text()
    titles = editor.js("() => window.app.graph._nodes.filter(n => n.type.startsWith('ADE_')).map(n => n.title)")
    assert titles and all("ComfyUI-AnimateDiff-Evolved" in t for t in titles)
    editor.page.wait_for_timeout(1000)
    assert any("node_id=comfyui-animatediff-evolved" in u for u in asked), [u for u in asked if "comfy.org" in u]
    editor.page.screenshot(path=str(editor_artifacts() / "missing_animatediff_pack.png"))


def test_wan_workflow_offers_the_exact_files_to_download(editor):
    """The loaders' model metadata: the missing-models dialog names each Wan 2.1 file, its folder and URL."""
    path = next(f for f in FILES if "Wan 2.1" in f.stem)
    load(editor, json.loads(path.read_text()), models_dialog=True)
    editor.page.get_by_text("Missing Models").wait_for(timeout=30000)
    text = editor.page.locator("[role=dialog]").last.inner_text()
    for folder, name in [("diffusion_models", "wan2.1_t2v_1.3B_fp16.safetensors"),
                         ("text_encoders", "umt5_xxl_fp8_e4m3fn_scaled.safetensors"), ("vae", "wan_2.1_vae.safetensors")]:
        assert f"{folder} / {name}" in text, text
    assert editor.page.get_by_role("button", name="Copy URL").count() == 3
    editor.page.screenshot(path=str(editor_artifacts() / "missing_wan_models.png"))


@pytest.mark.parametrize("path", DEMO_FILES, ids=[f.stem for f in DEMO_FILES])
def test_demo_runs_and_shows_its_video_large(editor, path):
    """Queue the demo as a user would; each output node shows its video in a preview at least 256 px tall."""
    wf = json.loads(path.read_text())
    load(editor, wf)
    editor.js("async () => { await window.app.queuePrompt(0, 1); }")
    outputs = [n["id"] for n in wf["nodes"] if n["type"] == "SaveAnimatedWEBP"]
    editor.page.wait_for_function("(ids) => ids.every(id => window.app.nodeOutputs[id]?.images?.length)",
                                  arg=outputs, timeout=240000)
    editor.fit()  # the frontend loads a node's images when it draws the node
    editor.page.wait_for_function("(ids) => ids.every(id => window.app.graph.getNodeById(id).imgs?.length &&"
                                  " window.app.graph.getNodeById(id).imgs[0].complete)", arg=outputs, timeout=30000)
    for node_id in outputs:
        w, h, top = editor.js("(id) => { const n = window.app.graph.getNodeById(id);"
                              " const y = Math.max(...n.widgets.map(w => (w.last_y ?? w.y ?? 0) + 24));"
                              " return [n.size[0], n.size[1], y]; }", node_id)
        assert min(w, h - top) >= 256, f"output #{node_id}: preview area {w} x {h - top}"
    assert overlaps(editor.js(DRAWN_BOXES)) == []
    editor.shot(f"demo_after_run_{path.stem}")
    assert editor.pack_errors() == []


HELP_NODES = sorted(p.stem for p in (REPO_DOCS).glob("TFV_*.md"))
HELP_TITLES = {n: (REPO_DOCS / f"{n}.md").read_text().splitlines()[0][2:].strip() for n in HELP_NODES}
HELP_FIT = """() => { const c = document.querySelector('.node-help-content');
    if (!c || !c.querySelector('h1')) return null;
    const right = c.getBoundingClientRect().right + 1;
    const wide = [...c.querySelectorAll('table, pre, img, p, li')].filter(e => e.getBoundingClientRect().right > right
        || e.scrollWidth > e.clientWidth + 1).map(e => `${e.tagName}: ${e.textContent.slice(0, 60)}`);
    return {width: c.clientWidth, wide, tables: c.querySelectorAll('table').length, top: c.innerText.slice(0, 400)}; }"""


def test_help_pages_fit_the_default_sidebar(editor):
    """Open each node's help as a user does (selection toolbox → info) in the default sidebar width."""
    for node_id in HELP_NODES:
        add_node(editor, node_id)
        editor.js("() => { window.tfvNode.pos = [700, 400]; window.app.canvas.selectNode(window.tfvNode);"
                  " window.app.canvas.setDirty(true, true); }")  # right of the open sidebar, toolbox above it
        editor.page.locator("[data-testid=info-button]").click()
        editor.page.wait_for_function("(t) => { const h = document.querySelector('.node-help-content h1');"
                                      " return h && h.textContent.trim() === t; }", arg=HELP_TITLES[node_id],
                                      timeout=30000)
        fit = editor.js(HELP_FIT)
        assert fit["wide"] == [], (node_id, fit)
        assert "Set first:" in fit["top"], node_id
        editor.page.screenshot(path=str(editor_artifacts() / f"help_{node_id}.png"))


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


PLOT_COLOURS = """() => { const c = document.querySelector('canvas.tfv-filter-profile'), ctx = c.getContext('2d');
    const d = ctx.getImageData(0, 34, c.width, c.height - 50).data, near = (i, rgb) =>
        Math.abs(d[i] - rgb[0]) + Math.abs(d[i + 1] - rgb[1]) + Math.abs(d[i + 2] - rgb[2]) < 60;
    let s = 0, t = 0;
    for (let i = 0; i < d.length; i += 4) { if (near(i, [79, 195, 247])) s++; if (near(i, [255, 183, 77])) t++; }
    return {spatial: s, temporal: t, width: c.width}; }"""


def test_filter_plot_labels_apart_and_both_curves_visible_at_equal_cut_offs(editor):
    add_node(editor, "TFV_FreeInit")
    set_widget(editor, "d_s", 0.25)
    set_widget(editor, "d_t", 0.25)  # the curves coincide
    labels = editor.js("() => window.tfvNode.tfvLabels")
    assert [b["text"] for b in labels][1:] == ["spatial (d_s)", "temporal (d_t)"]
    boxes = [(b["text"], [b["x"], b["y"], b["w"], b["h"]]) for b in labels]
    assert overlaps(boxes) == []
    colours = editor.js(PLOT_COLOURS)
    assert all(b["x"] + b["w"] <= colours["width"] for b in labels)
    assert colours["spatial"] > 150 and colours["temporal"] > 150, colours  # neither hides the other
    editor.screenshot("filter_profile_equal_cut_offs", scale=1.2)


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
