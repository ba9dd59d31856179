"""kdial.modes: which campaign modes dial today."""

from __future__ import annotations

import pytest

from kdial.api.campaign import CampaignMode
from kdial.modes import agents_unavailable


def test_preview_whose_parts_are_missing_does_not_dial() -> None:
    message = agents_unavailable(CampaignMode.PREVIEW)

    assert message is not None
    assert message.startswith("mode Preview hands answered calls to agents")
    assert "Modes Predictive, Progressive (one call per Ready agent) and Agentless" in message


@pytest.mark.parametrize("mode", ["Agentless", "Progressive", "Predictive"])
def test_agentless_progressive_and_predictive_dial(mode: str) -> None:
    assert agents_unavailable(CampaignMode(mode)) is None
