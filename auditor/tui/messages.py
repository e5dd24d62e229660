"""Messages the wizard's workers post back to the screens (thread-safe `post_message`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual.message import Message

if TYPE_CHECKING:
    from auditor.engine import ScanResult
    from auditor.models import Finding
    from auditor.tui.fixes import Preview


class ScanProgress(Message):
    def __init__(self, phase: str, done: int, total: int) -> None:
        super().__init__()
        self.phase, self.done, self.total = phase, done, total


class ScanDone(Message):
    def __init__(self, result: ScanResult) -> None:
        super().__init__()
        self.result = result


class ScanFailed(Message):
    def __init__(self, error: str) -> None:
        super().__init__()
        self.error = error


class PreviewReady(Message):
    def __init__(self, finding: Finding, preview: Preview) -> None:
        super().__init__()
        self.finding, self.preview = finding, preview


class PlanProgress(Message):
    """The review's plan is being built: `done` of `total` fixers have run; `fixer` runs now."""

    def __init__(self, fixer: str, done: int, total: int) -> None:
        super().__init__()
        self.fixer, self.done, self.total = fixer, done, total


class PlanReady(Message):
    """The review's combined plan (None: no code changes) or why it could not be made."""

    def __init__(self, plan: Any | None, error: str = "") -> None:
        super().__init__()
        self.plan, self.error = plan, error


class ApplyDone(Message):
    def __init__(self, report: Any | None, config_written: str | None, result: ScanResult | None, warning: str = "") -> None:
        super().__init__()
        self.report, self.config_written, self.result, self.warning = report, config_written, result, warning


class ApplyFailed(Message):
    def __init__(self, error: str) -> None:
        super().__init__()
        self.error = error
