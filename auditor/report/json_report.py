"""The stable JSON contract of ../DESIGN.md (`version` bumps on a breaking change)."""

from __future__ import annotations

import json

from auditor.engine import ScanResult

VERSION = 1


def contract(result: ScanResult) -> dict:
    scores = result.scores()
    return {
        "version": VERSION,
        "tool": "prodready",
        "root": str(result.root),
        "summary": {
            "files": result.files,
            "findings": len(result.findings),
            "by_step": {step.value: dict(entry) for step, entry in scores.items()},
        },
        "findings": [finding.contract_dict() for finding in result.findings],
        # Additive to the contract: known debt (still in "findings") and what inline comments silenced.
        "fixme": [
            {"rule": f.rule, "path": f.path, "line": f.line, "reason": result.fixme[f].reason}
            for f in result.findings
            if f in result.fixme
        ],
        "suppressed": [{**f.contract_dict(), "reason": s.reason} for f, s in result.suppressed],
    }


def render_json(result: ScanResult, **_: object) -> str:
    return json.dumps(contract(result), indent=2)
