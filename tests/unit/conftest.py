"""Unit tests start no process and open no socket: one that does fails, naming what it did, so
it moves to tests/integration instead of slowing and flaking `make unit`."""

from __future__ import annotations

import pytest

from tests.support.layout import refuse_processes_and_network


@pytest.fixture(autouse=True)
def no_processes_no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    refuse_processes_and_network(monkeypatch)
