"""The stable JSON contract of ../DESIGN.md (`version` bumps on a breaking change)."""

from __future__ import annotations

import json

from auditor.engine import ScanResult
from auditor.scoring import audit_gap, step_status

VERSION = 1


def contract(result: ScanResult) -> dict:
    gap = audit_gap(result)
    return {
        "version": VERSION,
        "tool": "prodready",
        "root": str(result.root),
        "summary": {
            "files": result.files,
            "findings": len(result.findings),
            # Additive: "checked" per step; "score" only for a step that was checked in a folder
            # with a web app (a step left out by --select, or a folder with nothing to audit, has none).
            "by_step": {step.value: entry for step, entry in step_status(result).items()},
        },
        "findings": [finding.contract_dict() for finding in result.findings],
        # Additive to the contract: known debt (still in "findings") and what inline comments silenced.
        "fixme": [
            {"rule": f.rule, "path": f.path, "line": f.line, "reason": result.fixme[f].reason}
            for f in result.findings
            if f in result.fixme
        ],
        "suppressed": [{**f.contract_dict(), "reason": s.reason} for f, s in result.suppressed],
        # Additive: what kept the scan from judging the project (nothing to audit: path ".")
        # and the files it could not analyse.
        "errors": ([{"kind": gap[0], "path": ".", "message": gap[1]}] if gap else [])
        + [{"kind": d.kind, "path": d.path, "message": d.message} for d in result.diagnostics],
    }


def render_json(result: ScanResult, **_: object) -> str:
    return json.dumps(contract(result), indent=2)
