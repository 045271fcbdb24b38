"""Every example workflow explains itself and fits on screen: a readable file name (the template browser's
title), a thumbnail beside it, a Markdown note naming every model file with its folder and source, model
metadata on loaders, pack ids on other packs' nodes, stages in groups, a large output preview, and no two
nodes or group title bars overlapping (title bars included). The layout check is itself tested."""
import copy
import json

import pytest
from PIL import Image

from workflow_builder import GROUP_TITLE, NODE_TITLE, layout_overlaps
from workflow_checks import workflow_files

FILES = workflow_files()
LOADERS = {"CheckpointLoaderSimple", "UNETLoader", "CLIPLoader", "VAELoader", "ADE_AnimateDiffLoaderGen1"}
OUTPUTS = {"SaveAnimatedWEBP", "PreviewImage", "SaveImage"}


def load(path):
    return json.loads(path.read_text())


def test_names_are_titles_and_demos_sort_first():
    names = [f.stem for f in FILES]
    assert len(names) >= 11
    assert all("_" not in n and n[0].isupper() for n in names), names
    demos = [n.startswith("Demo ") for n in sorted(names, key=str.lower)]  # the browser's A-Z sort
    assert demos == sorted(demos, reverse=True) and any(demos)


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_thumbnail_beside_the_workflow(path):
    jpg = path.with_suffix(".jpg")
    assert jpg.exists(), f"no thumbnail {jpg.name}"
    assert 3_000 < jpg.stat().st_size < 60_000
    with Image.open(jpg) as im:
        assert im.format == "JPEG" and min(im.size) >= 256
        assert sum(1 for c in im.convert("L").resize((32, 32)).histogram() if c) > 20  # a picture, not flat


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_note_names_every_model_file_with_folder_and_source(path):
    wf = load(path)
    notes = [n for n in wf["nodes"] if n["type"] == "MarkdownNote"]
    assert len(notes) == 1
    text = notes[0]["widgets_values"][0]
    for heading in ("**What it shows.**", "**Change first.**", "**Settings.**", "**Model files"):
        assert heading in text, heading
    for n in wf["nodes"]:
        if n["type"] in LOADERS:
            name = n["widgets_values"][0]
            line = next((l for l in text.splitlines() if f"`{name}`" in l), None)
            assert line and "`ComfyUI/models/" in line, f"the note does not say where {name} goes"
            after = text[text.index(line):].split("\n- ")[0]
            assert "https://" in after, f"no source for {name}"


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_loaders_carry_model_metadata_and_other_packs_their_ids(path):
    for n in load(path)["nodes"]:
        props = n.get("properties", {})
        if n["type"].startswith("ADE_"):
            assert props.get("cnr_id") == "comfyui-animatediff-evolved"
            assert props.get("aux_id") == "Kosinkadink/ComfyUI-AnimateDiff-Evolved"
            assert "AnimateDiff-Evolved" in n.get("title", "")
        for m in props.get("models", []):
            assert m["url"].startswith("https://") and m["url"].endswith("/" + m["name"]) and m["directory"]
            assert m["name"] in n["widgets_values"], "the frontend offers a file only if the widget selects it"
        if n["type"] in LOADERS and "realisticVision" not in str(n["widgets_values"]):
            assert props.get("models"), f"{n['type']}#{n['id']} has no model metadata"


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_stages_are_grouped_and_outputs_are_large(path):
    wf = load(path)
    assert len(wf["groups"]) >= 3
    for n in wf["nodes"]:
        if n["type"] == "MarkdownNote":
            continue
        x, y, w, h = n["pos"][0], n["pos"][1] - NODE_TITLE, *n["size"]
        inside = [g for g in wf["groups"] if g["bounding"][0] <= x and x + w <= sum(g["bounding"][::2])
                  and g["bounding"][1] + GROUP_TITLE <= y and y + h + NODE_TITLE <= sum(g["bounding"][1::2])]
        assert inside, f"{n['type']}#{n['id']} is in no group"
        if n["type"] in OUTPUTS:
            rows = max(len(n["inputs"]), len(n["outputs"]))
            preview_h = h - 20 * rows - 24 * len(n["widgets_values"]) - 8
            assert preview_h >= 256 and w >= 256, f"{n['type']}#{n['id']}: preview {w}x{preview_h}"


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_nothing_overlaps(path):
    assert layout_overlaps(load(path)) == []


def test_overlap_check_counts_title_bars():
    wf = load(FILES[0])
    a = next(n for n in wf["nodes"] if n["type"] != "MarkdownNote")
    b = copy.deepcopy(a)
    b["id"] = 999
    b["pos"] = [a["pos"][0], a["pos"][1] + a["size"][1] + NODE_TITLE - 5]  # only b's title bar touches a
    wf["nodes"].append(b)
    assert any("#999" in hit for hit in layout_overlaps(wf))
    wf["nodes"].pop()
    g = wf["groups"][0]
    inner = next(n for n in wf["nodes"] if n["pos"][1] - NODE_TITLE >= g["bounding"][1] + GROUP_TITLE
                 and g["bounding"][0] <= n["pos"][0] <= g["bounding"][0] + g["bounding"][2])
    inner["pos"][1] = g["bounding"][1] + NODE_TITLE + 10  # its title bar now covers the group's
    assert any("title" in hit for hit in layout_overlaps(wf))
