"""Which version a rollback returns to, and which versions stand in for an unusable one."""

from __future__ import annotations

from index.lineage import fallbacks, previous_version

# v1 <- v2 <- v3, then a rollback to v2 and a build from it: v4 (parent v2).
PARENTS: dict[str, str | None] = {"v1": None, "v2": "v1", "v3": "v2", "v4": "v2"}


def test_rollback_returns_to_the_version_it_was_built_from() -> None:
    assert previous_version(PARENTS, "v4") == "v2"
    assert previous_version(PARENTS, "v3") == "v2"


def test_without_a_surviving_parent_rollback_returns_to_the_newest_other_version() -> None:
    assert previous_version({"v3": "v2", "v4": "v3x"}, "v4") == "v3"
    assert previous_version({"v1": None}, "v1") is None
    assert previous_version(PARENTS, None) is None


def test_fallbacks_are_the_parents_then_older_then_newer_versions() -> None:
    assert fallbacks(PARENTS, "v4") == ["v2", "v1", "v3"]
    assert fallbacks(PARENTS, "v2") == ["v1", "v3", "v4"]
