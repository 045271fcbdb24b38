import pytest

from testenv import load_host


@pytest.fixture(scope="session")
def server():
    load_host()  # checks the host exists
    from comfy_server import ComfyServer
    with ComfyServer(test_nodes=True) as srv:
        yield srv
