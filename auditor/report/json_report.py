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
    }


def render_json(result: ScanResult, **_: object) -> str:
    return json.dumps(contract(result), indent=2)
