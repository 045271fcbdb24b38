"""Every file in workflows/ is a valid UI workflow whose nodes and widget values fit the running host,
and runs end to end on a real server with its model loaders swapped for the tiny / demo models."""
import json

import pytest

from workflow_checks import api_prompt, rewrite_for_test, structure_errors, widget_errors, workflow_files

FILES = workflow_files()


def test_the_example_workflows_are_the_generators():
    from make_workflows import WORKFLOWS
    assert {f.stem for f in FILES} == {title for title, _ in WORKFLOWS.values()}


@pytest.fixture(scope="module")
def object_info(server):
    return server.get("/object_info")


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_workflow_structure_and_widgets(path, object_info):
    wf = json.loads(path.read_text())
    assert not structure_errors(wf)
    assert not widget_errors(wf, object_info)


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_workflow_runs_end_to_end(path, object_info, server, capsys):
    wf = json.loads(path.read_text())
    prompt, replaced = rewrite_for_test(api_prompt(wf, object_info))
    if replaced:
        with capsys.disabled():
            print(f"\n[{path.name}] replaced for the test host: " + "; ".join(replaced))
    entry = server.run(prompt, timeout=600)
    assert server.output_files(entry), "the workflow saved nothing"
