"""Keep the tests' scan cache out of the user's ~/.cache."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("PRODREADY_CACHE_DIR", str(tmp_path_factory.mktemp("prodready-cache")))
    yield
    mp.undo()
