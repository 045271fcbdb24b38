import pytest

from testenv import load_host

load_host()


@pytest.fixture(scope="session")
def pack():
    import training_free_video
    return training_free_video
