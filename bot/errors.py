"""Errors meant for people: their message is shown as is (ephemeral in Discord)."""

from __future__ import annotations


class UserFacingError(Exception):
    """Something the person can fix or should know; not a bug."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
