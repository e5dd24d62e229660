"""The one scan engine behind `prodready scan`, `prodready fix` and the wizard.

discover -> analyse each file (parse once, one shared walk; parallel for large trees; cached
by content) -> ProjectIndex -> project rules -> suppressions and config filters -> ScanResult.
Nothing here imports, runs or installs the scanned project.
"""

from __future__ import annotations

import gc
import hashlib
import os
import pickle
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from auditor.analyze import Analyzer, FileResult, paused_gc
from auditor.cache import ResultCache, cache_disabled
from auditor.config import Config, ConfigError, load_config
from auditor.discovery import Discovery, discover
from auditor.errors import ScanError
from auditor.index.project import ProjectIndex
from auditor.models import Diagnostic, Finding, Step
from auditor.rules.base import ModuleRule, ProjectRule, all_rules
from auditor.scoring import step_scores
from auditor.suppress import Suppression, unused_codes, unused_message

Progress = Callable[[str, int, int], None]  # (phase, done, total)
UNUSED_SUPPRESSION = "PR590"  # its findings come from the suppression bookkeeping below
PARALLEL_THRESHOLD = 150  # files to analyse before worker processes pay for themselves
FILES_PER_WORKER = 75  # and the least share of them a worker should get
UNREAD_KINDS = frozenset({"syntax-error", "decode-error", "unreadable"})  # what such files define is unknown


@dataclass
class ScanResult:
    root: Path
    config: Config
    config_path: Path | None
    files: int
    findings: list[Finding]
    diagnostics: list[Diagnostic]
    index: ProjectIndex
    suppressed: list[tuple[Finding, Suppression]] = field(default_factory=list)
    fixme: dict[Finding, Suppression] = field(default_factory=dict)
    duration: float = 0.0
    cached_files: int = 0

    def scores(self) -> dict[Step, dict[str, int]]:
        return step_scores(self.findings)

    def by_step(self) -> dict[Step, list[Finding]]:
        table: dict[Step, list[Finding]] = {step: [] for step in Step}
        for finding in self.findings:
            table[finding.step].append(finding)
        return table


def enabled_rules(config: Config) -> tuple[list[ModuleRule], list[ProjectRule]]:
    module_rules, project_rules = [], []
    for code, cls in all_rules().items():
        if not config.rule_enabled(code):
            continue
        rule = cls(config.rules.get(code))
        (module_rules if isinstance(rule, ModuleRule) else project_rules).append(rule)
    return module_rules, project_rules


# Worker processes build their Analyzer once (the rules come from the config) and reuse it.
_worker_analyzer: Analyzer | None = None
_worker_root: Path | None = None


def _init_worker(root: str, config: Config) -> None:
    global _worker_analyzer, _worker_root
    gc.enable()  # a worker analyses hundreds of files, whatever the parent chose for itself
    module_rules, _ = enabled_rules(config)
    _worker_analyzer = Analyzer(module_rules)
    _worker_root = Path(root)


def _analyze_in_worker(relpath: str) -> bytes:
    """The pickled FileResult: the parent unpickles it once and stores the same bytes in the cache."""
    assert _worker_analyzer is not None and _worker_root is not None
    return pickle.dumps(_worker_analyzer.analyze(_worker_root, relpath), protocol=pickle.HIGHEST_PROTOCOL)


def _code_fingerprint() -> str:
    """Changes when prodready's own analysis code changes (so an edited rule never reads stale results)."""
    package = Path(__file__).parent
    stamps = sorted(
        (str(p.relative_to(package)), p.stat().st_mtime_ns)
        for folder in ("", "index", "rules")
        for p in (package / folder).glob("*.py")
    )
    return hashlib.sha1(repr(stamps).encode()).hexdigest()[:12]


def _stale_suppressions(
    results: dict[str, FileResult],
    raw: list[Finding],
    config: Config,
    project_rules: list[ProjectRule],
    ignored: Callable[[str, str], bool],
    crashed: set[str],
) -> list[Finding]:
    """PR590 findings: suppression comments that no longer suppress anything (when PR590 is enabled).

    Rules that crashed in this scan count as not run: their silence proves nothing."""
    rule = next((r for r in project_rules if r.code == UNUSED_SUPPRESSION), None)
    if rule is None:
        return []
    matched: dict[tuple[str, int], set[str]] = {}
    for finding in raw:
        file_result = results.get(finding.path)
        suppression = file_result.suppressions.get(finding.line) if file_result else None
        if suppression is not None and suppression.covers(finding.rule):
            matched.setdefault((finding.path, suppression.line), set()).add(finding.rule)
    known = set(all_rules())
    enabled = {code for code in known if config.rule_enabled(code)} - crashed
    stale = []
    for relpath, file_result in results.items():
        if any(d.kind == "rule-error" for d in file_result.diagnostics):
            continue  # the file's analysis stopped early: its findings are incomplete
        for line, suppression in file_result.suppressions.items():
            if line != suppression.line:
                continue  # the same comment, seen from another line of a def header
            if UNUSED_SUPPRESSION in suppression.codes or ignored(UNUSED_SUPPRESSION, relpath):
                continue
            verdict = unused_codes(suppression, matched.get((relpath, line), set()), known, enabled)
            if verdict is not None:
                stale.append(rule.at(relpath, suppression, unused_message(suppression, *verdict)))
    return stale


def _on_request_code(findings: list[Finding], index: ProjectIndex) -> list[Finding]:
    """Drop findings of request-handling rules outside request-handling code (tests, CLI commands,
    scripts, clients in the repo, dead modules, development-only routers): auditor/index/roles.py."""
    scoped = {code for code, cls in all_rules().items() if cls.scope == "request"}
    if not any(f.rule in scoped for f in findings):
        return findings
    roles = index.roles
    return [f for f in findings if f.rule not in scoped or roles.is_request_code(f.path, f.line)]


def _not_claimed_absent(findings: list[Finding], index: ProjectIndex) -> list[Finding]:
    """Without "no health route", "no logging setup"... while a file that may hold it is unread."""
    if not index.unparsed:
        return findings
    return [f for f in findings if index.roles.absence_unknown(f.rule) is None]


def _per_file_ignores(config: Config, config_path: Path | None, root: Path) -> Callable[[str, str], bool]:
    """(code, relpath) -> ignored? Globs match paths relative to the scanned folder or, as in Ruff,
    to the config file's folder (scanning `services/api` with a config above it)."""
    base = ""
    if config_path is not None:
        try:
            base = root.relative_to(config_path.parent.resolve()).as_posix()
        except ValueError:
            pass
    if base in ("", "."):
        return config.ignored_in_file
    return lambda code, relpath: config.ignored_in_file(code, relpath) or config.ignored_in_file(code, f"{base}/{relpath}")


def usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))  # honours taskset and cgroup cpusets (Linux)
    except AttributeError:
        return os.cpu_count() or 1


def _analyse_files(
    root: Path,
    found: Discovery,
    config: Config,
    module_rules: list[ModuleRule],
    cache: ResultCache | None,
    progress: Progress | None,
    jobs: int | None,
) -> tuple[dict[str, FileResult], int]:
    """Every file's FileResult: from the cache when its content is unchanged, else analysed
    (in worker processes for large batches). Returns the results and how many were cached."""
    results: dict[str, FileResult] = {}
    blobs: dict[str, bytes] = {}  # results pickled by workers, reused as cache entries
    todo: list[str] = []
    if cache is not None:
        cache.load()
    for relpath in found.python_files:
        cached = cache.get(relpath, found.mtimes[relpath], found.sizes[relpath]) if cache else None
        if cached is not None:
            results[relpath] = cached
        else:
            todo.append(relpath)
    cached_files = len(results)
    total = len(found.python_files)
    if progress:
        progress("parse", cached_files, total)

    # Each worker should get a real share of the files, and no more workers than CPUs this
    # process may run on (a container's cpu_count() can be the host's 64 cores).
    workers = min(jobs or usable_cpus(), max(1, len(todo) // FILES_PER_WORKER))
    if workers > 1 and len(todo) >= PARALLEL_THRESHOLD:
        import multiprocessing  # here: a warm rescan never starts a worker
        from concurrent.futures import ProcessPoolExecutor

        context = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
        with ProcessPoolExecutor(
            max_workers=workers,
            mp_context=context,
            initializer=_init_worker,
            initargs=(str(root), config),
        ) as pool:
            chunk = max(1, min(64, len(todo) // (workers * 8)))
            for done, (relpath, blob) in enumerate(zip(todo, pool.map(_analyze_in_worker, todo, chunksize=chunk)), start=1):
                results[relpath] = pickle.loads(blob)
                blobs[relpath] = blob
                if progress and done % 50 == 0:
                    progress("parse", cached_files + done, total)
    else:
        analyzer = Analyzer(module_rules)
        for done, relpath in enumerate(todo, start=1):
            results[relpath] = analyzer.analyze(root, relpath, keep_tree=True)
            if progress and done % 20 == 0:
                progress("parse", cached_files + done, total)
    if progress:
        progress("parse", total, total)

    if cache is not None:
        for relpath in todo:
            cache.put(relpath, found.mtimes[relpath], found.sizes[relpath], results[relpath], blobs.get(relpath))
        cache.prune(set(found.python_files))
        cache.save()
    return results, cached_files


def resolve_root(path: str | Path) -> Path:
    root = Path(path).expanduser()
    if not root.exists():
        raise ScanError(f"path does not exist: {path}")
    if not root.is_dir():
        raise ScanError(f"not a folder: {path} (give the project's folder)")
    if not os.access(root, os.R_OK | os.X_OK):
        raise ScanError(f"permission denied: cannot read folder {path}")
    return root.resolve()


def scan(
    path: str | Path,
    *,
    config: Config | None = None,
    overrides: dict[str, Any] | None = None,
    progress: Progress | None = None,
    use_cache: bool | None = None,
    jobs: int | None = None,
) -> ScanResult:
    started = time.perf_counter()
    root = resolve_root(path)
    config_path = None
    if use_cache is None:
        use_cache = not cache_disabled()
    if config is None:
        try:
            config, config_path = load_config(root, overrides, use_cache=use_cache)
        except ConfigError as exc:
            raise ScanError(str(exc)) from None
    found = discover(root, config.exclude, config.max_file_size)
    diagnostics = list(found.diagnostics)
    module_rules, project_rules = enabled_rules(config)

    cache = ResultCache(root, config.fingerprint() + _code_fingerprint()) if use_cache else None
    with paused_gc():  # tens of thousands of small objects come out of the cache and the workers
        results, cached_files = _analyse_files(root, found, config, module_rules, cache, progress, jobs)
    if cache is not None and cache.problem:
        diagnostics.append(Diagnostic(path=".", kind="cache", message=cache.problem))
    total = len(found.python_files)

    modules = {relpath: r.facts for relpath, r in sorted(results.items()) if r.facts is not None}
    index = ProjectIndex(root, modules, found.other_files, public_routes=config.public_routes)
    index.unparsed = {
        relpath: d.message for relpath, r in results.items() for d in r.diagnostics if d.kind in UNREAD_KINDS
    }
    for relpath, result in results.items():
        if result.tree is not None:
            index._trees[relpath] = result.tree
            index._sources[relpath] = result.source or ""

    raw: list[Finding] = []
    for result in results.values():
        diagnostics.extend(result.diagnostics)
        raw.extend(result.findings)
    crashed: set[str] = set()
    for rule in project_rules:
        try:
            raw.extend(rule.check(index))
        except Exception as exc:  # a bug in one rule must not take the scan down
            crashed.add(rule.code)
            diagnostics.append(
                Diagnostic(path=".", kind="rule-error", message=f"internal error in {rule.code}: {type(exc).__name__}: {exc}")
            )
    if progress:
        progress("rules", 1, 1)

    ignored = _per_file_ignores(config, config_path, root)
    kept, suppressed, fixme = [], [], {}
    for finding in sorted(set(_not_claimed_absent(_on_request_code(raw, index), index)), key=Finding.sort_key):
        if ignored(finding.rule, finding.path):
            continue
        file_result = results.get(finding.path)
        suppression = file_result.suppressions.get(finding.line) if file_result else None
        if suppression is not None and suppression.covers(finding.rule):
            if suppression.kind == "ignore":
                suppressed.append((finding, suppression))
                continue
            fixme[finding] = suppression
        kept.append(finding)
    stale = _stale_suppressions(results, raw, config, project_rules, ignored, crashed)
    if stale:
        kept = sorted(kept + stale, key=Finding.sort_key)

    return ScanResult(
        root=root,
        config=config,
        config_path=config_path,
        files=total,
        findings=kept,
        diagnostics=sorted(set(diagnostics), key=lambda d: (d.path, d.kind)),
        index=index,
        suppressed=suppressed,
        fixme=fixme,
        duration=time.perf_counter() - started,
        cached_files=cached_files,
    )
