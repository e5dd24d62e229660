"""Start: the project, what was detected, and the scan running in a worker with a progress bar."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Footer, ProgressBar, Static

from auditor.models import Step
from auditor.tui.messages import ScanDone, ScanFailed, ScanProgress
from auditor.tui.texts import START_HINT
from auditor.tui.widgets import StepTrail

if TYPE_CHECKING:
    from auditor.engine import ScanResult


# Imported packages that say which database layer or login library the project uses, most specific first.
DATABASE_LIBRARIES = {
    "flask_sqlalchemy": "Flask-SQLAlchemy", "sqlmodel": "SQLModel", "sqlalchemy": "SQLAlchemy",
    "peewee": "peewee", "tortoise": "Tortoise ORM", "sqlite3": "sqlite3", "psycopg2": "psycopg2",
    "psycopg": "psycopg", "asyncpg": "asyncpg", "pymongo": "pymongo", "motor": "motor",
}  # fmt: skip
AUTH_LIBRARIES = {
    "flask_login": "Flask-Login", "flask_httpauth": "Flask-HTTPAuth", "flask_jwt_extended": "Flask-JWT-Extended",
    "flask_security": "Flask-Security", "fastapi_users": "FastAPI Users", "authlib": "Authlib",
    "jwt": "PyJWT tokens", "jose": "python-jose tokens",
}  # fmt: skip


def database_fact(index, summary: dict) -> str:
    """What the index found about the database: the layer the code uses, and the server when the
    code names one (a URL read from the environment leaves it unknown)."""
    packages = index.imported_packages
    libraries = [label for package, label in DATABASE_LIBRARIES.items() if package in packages]
    if "Flask-SQLAlchemy" in libraries or "SQLModel" in libraries:
        libraries = [name for name in libraries if name != "SQLAlchemy"]  # the more specific one says it
    servers = ", ".join(summary["databases"])
    if not libraries and not servers:
        return "none found"
    return f"{', '.join(libraries) or 'unknown library'} (server: {servers or 'unknown'})"


def auth_fact(index) -> str:
    """The login libraries imported, and how many routes the index saw a login check on."""
    libraries = [label for package, label in AUTH_LIBRARIES.items() if package in index.imported_packages]
    routes = index.routes
    guarded = sum(1 for route in routes if route.auth)
    if not libraries and not guarded:
        return "none found"
    coverage = f"a login check on {guarded} of {len(routes)} routes" if routes else "no routes found"
    return f"{', '.join(libraries) or 'the project’s own check'}; {coverage}"


class StartScreen(Screen):
    BINDINGS = [
        Binding("enter", "begin", "Begin"),
        Binding("r", "rescan", "Rescan"),
        Binding("q", "app.request_quit", "Quit"),
    ]

    def __init__(self, rescan: bool = True) -> None:
        super().__init__()
        self.rescan = rescan

    def compose(self) -> ComposeResult:
        yield StepTrail("start")
        with VerticalScroll(id="start-body"):
            yield Static("Is this backend ready for production?", classes="headline")
            yield Static(START_HINT, classes="intro")
            yield Static(id="detected")
            with Vertical(id="scan-box"):
                yield Static("Reading the code…", id="scan-status")
                yield ProgressBar(id="scan-progress", show_eta=False)
            yield Static(id="overview")
            yield Button("Begin ▶", id="begin", variant="primary", disabled=True)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#detected", Static).update(self._detected(None))
        if self.rescan or self.app.session.result is None:
            self.call_after_refresh(self.action_rescan)  # paint first: the engine import then runs in the worker
        else:
            self._show(self.app.session.result)

    # -- scanning ---------------------------------------------------------------------------

    def action_rescan(self) -> None:
        self.query_one("#scan-box").display = True
        self.query_one("#begin", Button).disabled = True
        self.query_one("#scan-status", Static).update("Reading the code…")
        self.query_one(ProgressBar).update(total=None, progress=0)
        self.run_scan()

    @work(thread=True, exclusive=True, group="scan")
    def run_scan(self) -> None:
        from auditor.engine import ScanError, scan  # here, in the worker: the first screen does not wait for it

        def progress(phase: str, done: int, total: int) -> None:
            self.post_message(ScanProgress(phase, done, total))

        try:
            result = scan(self.app.session.root, overrides=self.app.overrides, progress=progress)
        except ScanError as exc:
            self.post_message(ScanFailed(str(exc)))
        except Exception as exc:  # never a traceback in the UI
            self.post_message(ScanFailed(f"internal error while scanning: {type(exc).__name__}: {exc}"))
        else:
            self.post_message(ScanDone(result))

    def on_scan_progress(self, message: ScanProgress) -> None:
        word = "Reading" if message.phase == "parse" else "Checking"
        self.query_one("#scan-status", Static).update(f"{word} the code… {message.done}/{message.total} files")
        self.query_one(ProgressBar).update(total=max(message.total, 1), progress=message.done)

    def on_scan_failed(self, message: ScanFailed) -> None:
        self.query_one(ProgressBar).display = False
        self.query_one("#scan-status", Static).update(Text(f"The scan failed: {message.error}", style="bold red"))
        self.app.notify(message.error, title="Scan failed", severity="error")

    def on_scan_done(self, message: ScanDone) -> None:
        self.app.scanned(message.result)
        self._show(message.result)

    # -- showing the result -----------------------------------------------------------------

    def _show(self, result: ScanResult) -> None:
        self.query_one("#scan-box").display = False
        self.query_one("#detected", Static).update(self._detected(result))
        self.query_one("#overview", Static).update(self._overview(result))
        begin = self.query_one("#begin", Button)
        resume = self.app.resume_step
        begin.label = f"Continue at step {resume.number}: {resume.title} ▶" if resume else "Begin step 1: Data model ▶"
        begin.disabled = False
        begin.focus()

    def _detected(self, result: ScanResult | None) -> Table:
        detected = Table.grid(padding=(0, 2))
        detected.add_column(style="bold")
        detected.add_column()
        detected.add_row("Project", self.app.path_label)
        if result is not None:
            summary = result.index.summary()
            detected.add_row("Framework", ", ".join(summary["frameworks"]) or "none found")
            detected.add_row("Database", database_fact(result.index, summary))
            detected.add_row("Auth", auth_fact(result.index))
            detected.add_row(
                "Size", f"{result.files} Python files, {summary['routes']} routes, {summary['models']} models/tables"
            )
            unread = [d for d in result.diagnostics if d.kind in {"syntax-error", "decode-error", "unreadable"}]
            if unread:  # what these files define is unknown to every step
                listed = ", ".join(d.path for d in unread[:3]) + (f" and {len(unread) - 3} more" if len(unread) > 3 else "")
                detected.add_row("Not read", Text(f"{listed}: {unread[0].message}" if len(unread) == 1 else listed, style="yellow"))
        return detected

    def _overview(self, result: ScanResult) -> Table:
        table = Table(box=None, padding=(0, 2), pad_edge=False, header_style="bold")
        table.add_column("Step")
        table.add_column("Findings", justify="right")
        table.add_column("Readiness", justify="right")
        for step, entry in result.scores().items():
            if not self.app.session.checked(step):
                table.add_row(f"{step.number}. {step.title}", "-", Text("not checked", style="dim"))
                continue
            score = entry["score"]
            style = "green" if score >= 90 else "yellow" if score >= 70 else "red"
            table.add_row(f"{step.number}. {step.title}", str(entry["findings"]), Text(f"{score}/100", style=style))
        return table

    @on(Button.Pressed, "#begin")
    def action_begin(self) -> None:
        if self.app.session.result is not None and not self.query_one("#begin", Button).disabled:
            self.app.goto(self.app.resume_step or Step.DATA_MODEL)
