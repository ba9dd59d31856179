"""kdial.modes: which campaign modes dial today."""

from __future__ import annotations

import pytest

from kdial.api.campaign import CampaignMode
from kdial.modes import agents_unavailable


@pytest.mark.parametrize("mode", ["Predictive"])
def test_agent_modes_whose_parts_are_missing_do_not_dial(mode: str) -> None:
    message = agents_unavailable(CampaignMode(mode))

    assert message is not None
    assert message.startswith(f"mode {mode} hands answered calls to agents")
    assert "Modes Progressive (one call per Ready agent), Preview" in message


@pytest.mark.parametrize("mode", ["Agentless", "Progressive", "Preview"])
def test_agentless_progressive_and_preview_dial(mode: str) -> None:
    assert agents_unavailable(CampaignMode(mode)) is None
