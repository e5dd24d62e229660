"""What each route still lacks once the plan's fixes are in: read from the in-memory result.

The failure-path tests assert only what holds after the fixes of the same plan (a generated test
that fails on day one teaches people to ignore tests). So before writing them, the project is
indexed again from the workspace texts and the rules whose gaps answer a 500 to those tests run
on it:

- PR301: the body is used without validation (a blank or wrong-typed body raises inside);
- PR210: a token is decoded without verification (any garbage token raises, not a 401);
- PR330 / PR332: a repeated or concurrent write fails or duplicates.

A finding counts for a route when it lies in the handler, in a project function the handler
calls, or in the auth the auth model says runs before it (the token decoding usually lives in a
dependency or a decorator).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from auditor.analyze import Analyzer
from auditor.index import ProjectIndex, Route
from auditor.index.auth_model import auth_model
from auditor.models import Finding
from auditor.rules.base import ModuleRule, all_rules
from fixers.pipeline.workspace import Workspace

BODY_RULES = ("PR301", "PR210")
DUPLICATE_RULES = ("PR330", "PR332")


@dataclass
class CurrentState:
    index: ProjectIndex
    findings: list[Finding] = field(default_factory=list)

    def gaps(self, route: Route, rules: tuple[str, ...]) -> list[Finding]:
        """The findings of `rules` in the route's handler or the project functions it calls."""
        spans = [(route.relpath, route.handler.span.line, route.handler.span.end_line)]
        facts = self.index.modules.get(route.relpath)
        names = [self.index.qualify(name, facts) if facts is not None else name for name in route.handler.calls]
        # The auth the route runs before its handler (dependencies, decorators, hooks), as the auth
        # model resolves it: a token decoded without verification there answers 500 as well.
        for mechanism in auth_model(self.index).of(route).mechanisms:
            if mechanism.kind in {"dependency", "decorator", "hook"}:
                names.append(mechanism.name if "." in mechanism.name or facts is None else self.index.qualify(mechanism.name, facts))
        for qualified in names:
            found = self.index.resolve_function(qualified)
            if found is not None:
                spans.append((found[0], found[1].span.line, found[1].span.end_line))
        found = [
            f for f in self.findings
            if f.rule in rules and any(f.path == path and first <= f.line <= last for path, first, last in spans)
        ]
        return sorted(found, key=lambda f: (rules.index(f.rule), f.path, f.line))


def current_state(ws: Workspace) -> CurrentState:
    """The project as the plan leaves it: its index, and the findings of the rules above."""
    scanned = ws.index
    relpaths = set(scanned.modules) | {r for r, s in ws.files.items() if r.endswith(".py") and s.text is not None}
    rules = all_rules()
    module_rules = [rules[c](None) for c in (*BODY_RULES, *DUPLICATE_RULES) if c in rules and issubclass(rules[c], ModuleRule)]
    project_rules = [rules[c](None) for c in (*BODY_RULES, *DUPLICATE_RULES) if c in rules and not issubclass(rules[c], ModuleRule)]
    analyzer = Analyzer(module_rules)
    modules, findings, trees, sources = {}, [], {}, {}
    for relpath in sorted(relpaths):
        text = ws.read(relpath)
        if text is None:
            continue
        result = analyzer.analyze(ws.root, relpath, keep_tree=True, data=text.encode("utf-8"))
        if result.facts is None:
            continue
        modules[relpath] = result.facts
        findings.extend(result.findings)
        trees[relpath], sources[relpath] = result.tree, result.source or ""
    index = ProjectIndex(scanned.root, modules, scanned.other_files, public_routes=scanned.public_routes)
    index._trees.update(trees)
    index._sources.update(sources)
    for relpath in scanned.other_files:  # schema files a fix may have changed
        if relpath in ws.files and ws.files[relpath].text is not None:
            index._sources[relpath] = ws.files[relpath].text
    for rule in project_rules:
        findings.extend(rule.check(index))
    return CurrentState(index, findings)
