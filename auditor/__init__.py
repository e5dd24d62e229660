"""prodready's auditor: discovery, parsing, the project index, rules and reports.

This package (and `fixers`) never imports textual; the wizard lives in `auditor.tui`
and is imported only by the CLI when it is asked for.
"""

__version__ = "0.1.0"
