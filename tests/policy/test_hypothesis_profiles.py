"""The hypothesis profiles of tests/conftest.py: ``ci`` (the default, derandomized) and ``fuzz`` (random, many
examples); a test's own ``@settings`` inherits the loaded profile; every hypothesis test is marked ``property``."""

from __future__ import annotations

from hypothesis import given, is_hypothesis_test, settings
from hypothesis import strategies as st
from policytest import examples


def test_profiles():
    ci, fuzz = settings.get_profile("ci"), settings.get_profile("fuzz")
    assert ci.derandomize and ci.deadline is None and ci.print_blob and ci.database is None
    assert not fuzz.derandomize and fuzz.deadline is None and fuzz.max_examples >= 5000 > ci.max_examples
    assert settings.get_current_profile_name() in ("ci", "fuzz")  # never hypothesis' own random default


def _draws_under(profile: str) -> list[list[int]]:
    """What a test declaring only ``@settings(max_examples=…)`` draws in two runs under ``profile``."""
    previous = settings.get_current_profile_name()
    settings.load_profile(profile)
    try:
        runs: list[list[int]] = []

        @settings(max_examples=25)
        @given(st.integers())
        def probe(x):
            runs[-1].append(x)

        for _ in range(2):
            runs.append([])
            probe()
        return runs
    finally:
        settings.load_profile(previous)


def test_explicit_settings_keep_the_ci_profile_derandomized():
    first, second = _draws_under("ci")
    assert len(first) == 25 and first == second
    first, second = _draws_under("fuzz")
    assert first != second  # random: 25 draws of unbounded integers agreeing twice is not a thing


@given(st.integers(0, 100_000))
def test_examples_budget_follows_the_profile(n):
    assert examples(n) == max(n, settings.default.max_examples)


def test_every_hypothesis_test_is_marked_property(request):
    items = [i for i in request.session.items if hasattr(i, "obj")]
    hypothesis_items = [i for i in items if is_hypothesis_test(i.obj)]
    assert "test_examples_budget_follows_the_profile" in {i.name for i in hypothesis_items}
    assert all(i.get_closest_marker("property") for i in hypothesis_items)
    assert not any(i.get_closest_marker("property") for i in items if not is_hypothesis_test(i.obj))
