"""Shared pytest set-up: no test writes into the real home directory (the CLI keeps its
invocation counters and token journal under ~/.config/udlms by default)."""

import pytest


@pytest.fixture(autouse=True)
def _private_home(tmp_path_factory, monkeypatch):
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    yield home
