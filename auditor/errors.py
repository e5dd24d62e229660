"""Errors every face of prodready reports as one line (kept light: the CLI imports it first)."""


class ScanError(Exception):
    """The scan cannot run at all (missing path, bad config): one clear line for the user."""
