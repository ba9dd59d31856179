"""The abandon budget: the trailing window, the brake (separate from the estimator) and the
feedback on the measured rate."""

from __future__ import annotations

from kdial.pacing.abandon import REGULATORY, STRICT, AbandonWindow, Brake, Feedback


def test_window_forgets_what_is_older_than_thirty_minutes() -> None:
    window = AbandonWindow()
    window.add(0.0, 90, 10)
    window.add(1000.0, 100, 0)
    assert (window.answered, window.abandoned) == (200, 10)
    window.add(1800.0, 0, 0)
    assert (window.answered, window.abandoned, window.rate()) == (100, 0, 0.0)


def test_brake_engages_over_the_limit_and_holds_until_the_window_recovers() -> None:
    brake = Brake(REGULATORY)
    window = AbandonWindow()
    window.add(0.0, 100, 5)  # 4.8%: within the regulatory limit
    assert not brake.update(window)
    window.add(60.0, 0, 3)  # 7.4%
    assert brake.update(window)
    window.add(120.0, 40, 0)  # 5.4%: better, not yet recovered
    assert brake.update(window)
    window.add(180.0, 60, 0)  # 3.8%
    assert not brake.update(window)


def test_strict_brake_engages_before_a_window_reaches_the_cap() -> None:
    window = AbandonWindow()
    window.add(0.0, 97, 3)  # 3.0% in the trailing window
    assert Brake(STRICT).update(window)
    assert not Brake(REGULATORY).update(window)


def test_few_answers_say_nothing_about_the_rate() -> None:
    window = AbandonWindow()
    window.add(0.0, 5, 1)
    assert not Brake(REGULATORY).update(window)


def test_feedback_scales_the_budget_down_after_abandons_and_up_after_clean_answers() -> None:
    feedback = Feedback(target=0.03, gain=0.02)
    feedback.update(100, 10)  # 9% abandoned: far over
    assert feedback.scale() < 1.0
    low = feedback.scale()
    for _ in range(50):
        feedback.update(100, 0)
    assert feedback.scale() > low


def test_feedback_at_the_target_rate_holds_still() -> None:
    feedback = Feedback(target=0.03, gain=0.02)
    for _ in range(100):
        feedback.update(97, 3)
    assert abs(feedback.level) < 1e-9


def test_feedback_is_bounded_both_ways() -> None:
    feedback = Feedback(target=0.03, gain=0.5, bound=3.0)
    feedback.update(0, 1000)
    assert feedback.level == -3.0
    feedback.update(100_000, 0)
    assert feedback.level == 3.0
