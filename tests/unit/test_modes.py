"""kdial.modes: which campaign modes dial today."""

from __future__ import annotations

import pytest

from kdial.api.campaign import CampaignMode
from kdial.modes import agents_unavailable


@pytest.mark.parametrize("mode", ["Predictive", "Progressive", "Preview"])
def test_modes_that_hand_calls_to_agents_do_not_dial(mode: str) -> None:
    message = agents_unavailable(CampaignMode(mode))

    assert message is not None
    assert message.startswith(f"mode {mode} hands answered calls to agents")
    assert "Only mode Agentless with a destination" in message


def test_agentless_dials() -> None:
    assert agents_unavailable(CampaignMode.AGENTLESS) is None
