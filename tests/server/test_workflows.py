"""Every file in workflows/ is a valid UI workflow whose nodes and widget values fit the running host,
and runs end to end on a real server with its model loaders swapped for the tiny / demo models."""
import json

import pytest

import method_checks
from metrics_checks import changed_metrics, comparisons
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
    pid = server.queue(method_checks.counted(prompt, object_info))
    entry = server.wait(pid, timeout=600)
    assert server.output_files(entry), "the workflow saved nothing"
    methods = method_checks.present(prompt)
    if methods:  # each method did its work: its calls over the bypassed graph's, and a different output
        calls = server.get(f"/tfv_test/calls/{pid}")
        plain_pid = server.queue(method_checks.counted(method_checks.bypassed(prompt), object_info))
        plain_entry = server.wait(plain_pid, timeout=600)
        plain = server.get(f"/tfv_test/calls/{plain_pid}")
        extra = method_checks.expected_extra(prompt, plain)
        with capsys.disabled():
            print(f"\n[{path.name}] {', '.join(methods)}: model calls per node {calls}, bypassed {plain}")
        assert extra, "no node runs the method"
        for nid, n in extra.items():
            base = 0 if prompt[nid]["class_type"] == "TFV_FIFOSampler" else plain.get(nid, 0)  # FIFO stays
            assert calls.get(nid, 0) == base + n, (nid, prompt[nid]["class_type"], calls, plain, n)
        outputs = lambda e: sorted(p.read_bytes() for p in server.output_files(e))
        if set(methods) - {"TFV_FIFOSampler"}:
            assert outputs(entry) != outputs(plain_entry), "bypassing the method changed no output"
    if any(n["type"] == "TFV_CompareVideos" for n in wf["nodes"]):
        assert comparisons(entry), "Compare Videos showed no table"
    for table in comparisons(entry):                       # Compare Videos: the method must change the metrics
        with capsys.disabled():
            print(f"\n[{path.name}] Compare Videos:\n{table.split(chr(10) * 2)[0]}")
        assert {"temporal flickering", "subject consistency"} & set(changed_metrics(table)), table
