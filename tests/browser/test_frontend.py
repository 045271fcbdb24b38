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
