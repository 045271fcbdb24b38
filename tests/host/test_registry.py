"""Registry readiness: every node is unique, prefixed and documented; the package is clean."""
import ast
import re
import tomllib

import pytest

from testenv import REPO

PACK_SOURCES = [p for p in REPO.glob("**/*.py") if ".host" not in p.parts and "tests" not in p.parts]


@pytest.fixture(scope="module")
def schemas(pack):
    from training_free_video.nodes import node_list
    return [n.define_schema() for n in node_list()]


def test_node_ids_are_unique_prefixed_and_described(schemas):
    ids = [s.node_id for s in schemas]
    assert len(ids) == len(set(ids))
    for s in schemas:
        assert s.node_id.startswith("TFV_"), s.node_id
        assert s.display_name and s.description and s.category.startswith("training-free-video/"), s.node_id
        for i in s.inputs or []:
            assert i.tooltip, f"{s.node_id}.{i.id} has no tooltip"
        for o in s.outputs or []:
            assert o.tooltip, f"{s.node_id} output {o.id or o.display_name} has no tooltip"


def test_tooltips_name_only_inputs_the_node_has(schemas):
    """A tooltip that says "the X input" (X a word such as low, high) must be on a node with input X,
    or say which node it means ("Frequency Mix: from the low input")."""
    for s in schemas:
        names = {i.id for i in s.inputs or []}
        for i in s.inputs or []:
            for clause in re.split(r"[;.]", i.tooltip):
                if s.display_name in clause:  # the clause says which node it is about
                    continue
                other = next((t.display_name for t in schemas if t.display_name + ":" in clause), None)
                for word in re.findall(r"\bthe (\w+) input\b", clause):
                    assert other or word in names, f"{s.node_id}.{i.id} speaks of a '{word}' input it does not have"


def test_every_node_has_a_help_page(schemas):
    for s in schemas:
        page = REPO / "js" / "docs" / f"{s.node_id}.md"
        assert page.exists() and len(page.read_text()) > 200, f"missing or empty help page {page.name}"


def test_help_pages_start_short_with_the_inputs_that_matter_first(schemas):
    """What it does and at most three inputs to set first, before the details."""
    for s in schemas:
        text = (REPO / "js" / "docs" / f"{s.node_id}.md").read_text()
        top, _, details = text.partition("\n## Details\n")
        assert details, f"{s.node_id}: no '## Details' section after the short top"
        assert len([line for line in top.splitlines() if line.strip()]) <= 9, f"{s.node_id}: top too long"
        first = re.findall(r"^- \*\*(.+?)\*\*:", top.split("**Set first:**")[1], re.M)
        names = {i.id for i in s.inputs or []}
        fewest = 1 if names else 0  # a node without inputs (World Reward) has none to set
        assert fewest <= len(first) <= 3 and all(n in names for item in first for n in item.split(" / ")), \
            f"{s.node_id}: set-first inputs {first} are not inputs of the node"
        for block in re.findall(r"```.*?```", text, re.S):  # code blocks do not wrap in the sidebar
            assert max(len(line) for line in block.splitlines()) <= 60, f"{s.node_id}: wide code block"


def test_no_eval_exec_runtime_installs_or_pickles():
    for path in PACK_SOURCES:
        text = path.read_text()
        tree = ast.parse(text)
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id not in ("eval", "exec"), f"{path}: {node.func.id}()"
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
                assert not {"pickle", "subprocess", "pip"} & {n.split(".")[0] for n in names}, path
        for m in re.finditer(r"torch\.load\(([^)]*)\)", text):
            assert "weights_only=True" in m.group(1), f"{path}: torch.load without weights_only=True"


def test_packaging_metadata():
    meta = tomllib.loads((REPO / "pyproject.toml").read_text())
    proj, comfy = meta["project"], meta["tool"]["comfy"]
    assert proj["name"] and "comfyui" not in proj["name"].lower() and proj["version"] == "0.1.0"
    assert proj["description"] and proj["license"] == {"file": "LICENSE"} and proj["urls"]["Repository"]
    assert comfy["PublisherId"] and comfy["DisplayName"] and comfy["requires-comfyui"] == ">=0.3.75"
    assert "GNU GENERAL PUBLIC LICENSE" in (REPO / "LICENSE").read_text()[:200]
    reqs = [line.split("#")[0].strip() for line in (REPO / "requirements.txt").read_text().splitlines()]
    assert not [r for r in reqs if re.match(r"(torch|torchvision|torchaudio)\b", r)]
    init = (REPO / "__init__.py").read_text()
    assert 'WEB_DIRECTORY = "./js"' in init and "comfy_entrypoint" in init and "NODE_CLASS_MAPPINGS" not in init
