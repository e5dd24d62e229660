"""The rules run again on a plan's in-memory texts, without writing them anywhere.

A plan is a fixed point only if scanning its result finds nothing new to fix. Rescanning the
whole project after every round would cost a full scan each time; instead the files the plan
left alone keep what the scan learnt about them (their facts, their per-module findings), only
the files the plan wrote are analysed again, and only the rules whose fixes the plan may use run.
"""

from __future__ import annotations

from collections.abc import Iterable

from auditor.analyze import Analyzer, FileResult
from auditor.discovery import SKIP_DIRS, _gitignore_spec, _load_ignore
from auditor.engine import _per_file_ignores, enabled_rules
from auditor.index.project import ProjectIndex
from auditor.models import Finding
from auditor.suppress import Suppression, find_suppressions, spread_over_headers


class Rescanner:
    """Scans the texts of a plan on top of the scan the plan was made from (`result`)."""

    def __init__(self, result, codes: Iterable[str]) -> None:
        self.result = result
        codes = set(codes)
        module_rules, project_rules = enabled_rules(result.config)
        self.module_codes = {r.code for r in module_rules}
        self.project_rules = [r for r in project_rules if r.code in codes]
        self.analyzer = Analyzer([r for r in module_rules if r.code in codes])
        self.codes = codes
        self.ignored = _per_file_ignores(result.config, result.config_path, result.root)
        self._analysed: dict[str, tuple[str, FileResult]] = {}  # relpath -> (text, its analysis)
        self._suppressions: dict[str, dict[int, Suppression]] = {}  # unchanged files, on demand
        self._ignores: dict[str, object] = {}  # folder -> its .gitignore spec (None: none)

    def scan(self, texts: dict[str, str | None]) -> tuple[list[Finding], ProjectIndex]:
        """The findings (of the chosen rules) and the index of the project with `texts` (relpath ->
        text, None for a deleted file) in place of what is on disk."""
        scanned = self.result.index
        changed = {r: t for r, t in texts.items() if t != scanned._sources.get(r, _UNREAD)}
        modules = dict(scanned.modules)
        trees, sources = dict(scanned._trees), dict(scanned._sources)
        other_files = list(scanned.other_files)
        analysed: dict[str, FileResult] = {}
        for relpath, text in sorted(changed.items()):
            if relpath.endswith(".py"):
                modules.pop(relpath, None)
                trees.pop(relpath, None)
                if text is None or (relpath not in scanned.modules and not self._discoverable(relpath)):
                    continue
                result = self._analyse(relpath, text)
                analysed[relpath] = result
                if result.facts is not None:
                    modules[relpath] = result.facts
                    trees[relpath] = result.tree
            elif text is None:
                other_files = [r for r in other_files if r != relpath]
            elif relpath not in other_files:
                other_files.append(relpath)
            sources.pop(relpath, None)
            if text is not None:
                sources[relpath] = text

        index = ProjectIndex(
            scanned.root, dict(sorted(modules.items())), sorted(other_files), public_routes=self.result.config.public_routes
        )
        index._trees, index._sources = trees, sources

        # Per-module findings: the scan's for the files left alone, a new analysis for the others.
        found = [f for f in self.result.findings if f.rule in self.codes and f.rule in self.module_codes and f.path not in changed]
        raw = [f for result in analysed.values() for f in result.findings]
        for rule in self.project_rules:
            try:
                raw.extend(rule.check(index))
            except Exception:  # as in the scan: a crashing rule reports nothing
                continue
        for finding in raw:
            if self.ignored(finding.rule, finding.path):
                continue
            suppression = self._suppressions_of(finding.path, analysed, index).get(finding.line)
            if suppression is not None and suppression.kind == "ignore" and suppression.covers(finding.rule):
                continue
            found.append(finding)
        return sorted(set(found), key=Finding.sort_key), index

    def _discoverable(self, relpath: str) -> bool:
        """Would a scan find this new module (not excluded by the config, a .gitignore or a skipped
        folder such as a virtualenv)? A module it would not see must not count here either."""
        folders = relpath.split("/")[:-1]
        if any(name in SKIP_DIRS for name in folders):
            return False
        exclude = self.result.config.exclude
        if exclude and _gitignore_spec(exclude).match_file(relpath):
            return False
        for depth in range(len(folders) + 1):
            prefix = "/".join(folders[:depth])
            if prefix not in self._ignores:
                self._ignores[prefix] = _load_ignore(self.result.root / prefix if prefix else self.result.root)
            spec = self._ignores[prefix]
            if spec is not None and spec.match_file(relpath[len(prefix) + 1 :] if prefix else relpath):
                return False
        return True

    def _analyse(self, relpath: str, text: str) -> FileResult:
        cached = self._analysed.get(relpath)
        if cached is None or cached[0] != text:
            result = self.analyzer.analyze(self.result.root, relpath, keep_tree=True, data=text.encode("utf-8"))
            cached = self._analysed[relpath] = (text, result)
        return cached[1]

    def _suppressions_of(self, relpath: str, analysed: dict[str, FileResult], index: ProjectIndex) -> dict[int, Suppression]:
        if relpath in analysed:
            return analysed[relpath].suppressions
        if relpath not in self._suppressions:
            source = index._sources.get(relpath) or index.source(relpath)
            found = find_suppressions(source)
            self._suppressions[relpath] = spread_over_headers(found, index.tree(relpath)) if found else {}
        return self._suppressions[relpath]


_UNREAD = object()  # a text the scan never read (a new file, or not Python): always "changed"
