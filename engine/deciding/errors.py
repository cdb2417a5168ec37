"""Errors a user can fix.  The CLI prints them and exits 2; nothing else does."""

from __future__ import annotations


class UserError(Exception):
    """Bad input or usage: the message says where and how to fix it."""


class PolicyError(UserError):
    """A policy that cannot be loaded: unknown id, unsafe directive, syntax error."""

    def __init__(self, messages: list[str]):
        self.messages = messages
        super().__init__("\n".join(messages))
