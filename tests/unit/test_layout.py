"""The folder says what a test is: every test is marked by it, and a test elsewhere is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.layout import KINDS, Misplaced, kind_of

TESTS = Path("/repo/tests")


def test_every_collected_test_carries_exactly_the_marker_of_its_folder(
    request: pytest.FixtureRequest,
) -> None:
    wrong = {
        item.nodeid
        for item in request.session.items
        if {m.name for m in item.iter_markers()} & set(KINDS) != {Path(item.nodeid).parts[1]}
    }

    assert not wrong, f"tests whose markers are not their folder's: {sorted(wrong)[:5]}"


@pytest.mark.parametrize("kind", KINDS)
def test_the_folder_is_the_kind(kind: str) -> None:
    assert kind_of(TESTS / kind / "test_x.py", TESTS, []) == kind
    assert kind_of(TESTS / kind / "deeper" / "test_x.py", TESTS, [kind, "parametrize"]) == kind


@pytest.mark.parametrize(
    "path",
    [TESTS / "test_x.py", TESTS / "support" / "test_x.py", Path("/elsewhere/test_x.py")],
)
def test_a_test_outside_the_kinds_folders_is_refused_naming_them(path: Path) -> None:
    with pytest.raises(Misplaced, match="tests/unit, tests/integration, tests/e2e"):
        kind_of(path, TESTS, [])


def test_a_marker_against_the_folder_is_refused_naming_both() -> None:
    with pytest.raises(Misplaced, match="marked integration but lives in tests/unit"):
        kind_of(TESTS / "unit" / "test_x.py", TESTS, ["integration"])
