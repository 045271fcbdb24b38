import pytest

from testenv import load_host


@pytest.fixture(scope="session")
def server():
    load_host()  # checks the host exists
    from comfy_server import ComfyServer
    with ComfyServer(test_nodes=True) as srv:
        yield srv
        leaks = [line for line in srv.log().splitlines() if "memory leak" in line]
    if leaks:  # a model the pack kept alive after its prompt (see tests/host/test_model_release.py)
        pytest.fail("the server log of this tier reports leaks:\n" + "\n".join(leaks))
