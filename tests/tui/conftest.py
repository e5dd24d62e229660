import pytest


@pytest.fixture
def anyio_backend() -> str:
    """Pilot tests are async; anyio's pytest plugin (installed with httpx) runs them on asyncio."""
    return "asyncio"
