"""SARIF 2.1.0 for GitHub code scanning (`github/codeql-action/upload-sarif`)."""

from __future__ import annotations

import json

from auditor import __version__
from auditor.engine import ScanResult
from auditor.models import Severity
from auditor.rules.base import all_rules
from auditor.scoring import audit_gap, step_status

LEVEL = {Severity.HIGH: "error", Severity.MEDIUM: "warning", Severity.LOW: "note"}
SECURITY_SEVERITY = {Severity.HIGH: "8.0", Severity.MEDIUM: "5.0", Severity.LOW: "2.0"}


def render_sarif(result: ScanResult, **_: object) -> str:
    rules = all_rules()
    used = sorted({f.rule for f in result.findings} | {f.rule for f, _ in result.suppressed})
    rule_index = {code: i for i, code in enumerate(used)}
    descriptors = []
    for code in used:
        cls = rules[code]
        descriptors.append(
            {
                "id": code,
                "name": cls.name,
                "shortDescription": {"text": cls.name.replace("-", " ")},
                "fullDescription": {"text": cls.impact},
                "help": {"text": cls.doc, "markdown": cls.doc},
                "defaultConfiguration": {"level": LEVEL[cls.severity]},
                "properties": {
                    "tags": [cls.step().value, cls.category.value],
                    "security-severity": SECURITY_SEVERITY[cls.severity],
                },
            }
        )
    results = []
    # Suppressed findings are included with SARIF's own `suppressions` (shown as dismissed, with the reason).
    entries = [(f, None) for f in result.findings] + list(result.suppressed)
    for f, suppression in entries:
        fixme = result.fixme.get(f)
        entry = {
            "ruleId": f.rule,
            "ruleIndex": rule_index[f.rule],
            "level": LEVEL[f.severity],
            "message": {"text": f.message},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": f.path, "uriBaseId": "%SRCROOT%"},
                        "region": {"startLine": f.line, "startColumn": f.col + 1, "endLine": f.end_line},
                    }
                }
            ],
            "properties": {"step": f.step.value, "category": f.category.value, "confidence": f.confidence.value},
        }
        if fixme is not None:  # still reported: known debt, with its reason
            entry["properties"]["fixme"] = fixme.reason or True
            entry["message"]["text"] += f" (known debt{': ' + fixme.reason if fixme.reason else ''})"
        if suppression is not None:
            entry["suppressions"] = [{"kind": "inSource", "justification": suppression.reason or "no reason given"}]
        results.append(entry)
    document = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "prodready",
                        "version": __version__,
                        "informationUri": "https://pypi.org/project/prodready/",
                        "rules": descriptors,
                    }
                },
                "originalUriBaseIds": {"%SRCROOT%": {"uri": result.root.as_uri() + "/"}},
                "invocations": [{"executionSuccessful": True, "toolExecutionNotifications": notifications(result)}],
                "results": results,
                # Per step: findings, whether any of its rules ran ("checked") and, when the
                # folder has a web app to audit, the readiness score.
                "properties": {"steps": {step.value: entry for step, entry in step_status(result).items()}},
            }
        ],
    }
    return json.dumps(document, indent=2)


def notifications(result: ScanResult) -> list[dict]:
    """Nothing to audit, and the files that could not be analysed, as SARIF notifications."""
    out = []
    gap = audit_gap(result)
    if gap is not None:
        out.append({"level": "error", "descriptor": {"id": gap[0]}, "message": {"text": gap[1]}})
    for diag in result.diagnostics:
        entry = {"level": "warning", "descriptor": {"id": diag.kind}, "message": {"text": diag.message}}
        if diag.path != ".":
            entry["locations"] = [{"physicalLocation": {"artifactLocation": {"uri": diag.path, "uriBaseId": "%SRCROOT%"}}}]
        out.append(entry)
    return out
