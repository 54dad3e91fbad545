"""Errors that end a command with one clear message (never a bare stack trace)."""

from __future__ import annotations


class RadarError(Exception):
    """A problem the user can act on: printed as one message, exit code 2."""


class ConfigError(RadarError):
    """A configuration file is missing, unreadable or holds a bad value."""


class InputError(RadarError):
    """The raw input folder is missing, empty or unusable."""


class LakeError(RadarError):
    """The lake is missing a table, or was written by an incompatible version."""
