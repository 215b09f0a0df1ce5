"""alignops.notify's public names exist and say what they are."""

from __future__ import annotations

import alignops.notify


def test_public_names_exist_and_are_documented() -> None:
    aliases = {"Kind", "Severity"}  # Literal types: documented where they are defined
    for name in alignops.notify.__all__:
        value = getattr(alignops.notify, name)
        if callable(value) and name not in aliases:
            assert value.__doc__, f"alignops.notify.{name} has no docstring"


def test_the_channels_are_registered() -> None:
    assert sorted(alignops.notify.CHANNELS) == ["log", "mailto", "slack", "webhook"]
