"""One self-contained HTML page: a score chart per step, then the findings grouped by step with
the code they point at and, where a codemod exists, the diff it proposes.

No scripts, fonts, images or stylesheets are fetched: the chart is inline SVG and the styles sit
in the page, so the file can be attached to a CI run or mailed and opened anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

from jinja2 import Environment

from auditor import __version__
from auditor.engine import ScanResult
from auditor.masking import mask_secrets
from auditor.models import Finding, Step
from auditor.rules.base import all_rules
from auditor.scoring import audit_gap, not_scored_reason, step_status

CONTEXT_LINES = 2
MAX_FLAGGED_LINES = 12
BAR_WIDTH = 520
MAX_PREVIEWS = 50  # each preview plans a codemod (libcst); past this, `prodready fix --diff` has the rest


@dataclass
class Excerpt:
    start: int
    lines: list[tuple[int, str, bool]]  # (number, text, flagged)


def excerpt(source_lines: list[str], finding: Finding) -> Excerpt | None:
    if not source_lines or finding.line > len(source_lines):
        return None
    last_flagged = min(finding.end_line, finding.line + MAX_FLAGGED_LINES - 1)
    first = max(1, finding.line - CONTEXT_LINES)
    last = min(len(source_lines), last_flagged + CONTEXT_LINES)
    rows = [(n, mask_secrets(source_lines[n - 1]), finding.line <= n <= last_flagged) for n in range(first, last + 1)]
    return Excerpt(first, rows)


def proposed_diff(result: ScanResult, finding: Finding) -> str | None:
    """The fixer's diff for this finding, when the fix engine offers previews (and it works)."""
    if not finding.fixable:
        return None
    try:
        import fixers

        preview = getattr(fixers, "preview", None)
        if preview is None:
            return None
        diff = preview(result, finding).diff()
    except Exception:  # a report must render even when one fix cannot be previewed
        return None
    return diff or None


def score_color(score: int) -> str:
    return "#1a7f37" if score >= 80 else "#b35900" if score >= 50 else "#c62828"


TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>prodready report — {{ root_name }}</title>
<style>
:root { --fg:#1f2328; --muted:#59636e; --line:#d1d9e0; --bg:#f6f8fa; }
* { box-sizing: border-box; }
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); margin: 0; background: #fff; }
main { max-width: 1100px; margin: 0 auto; padding: 24px 32px 64px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 20px; margin: 36px 0 12px; padding-bottom: 6px; border-bottom: 1px solid var(--line); }
.meta { color: var(--muted); margin: 0 0 20px; }
.chart { background: var(--bg); border: 1px solid var(--line); border-radius: 8px; padding: 12px; }
.finding { border: 1px solid var(--line); border-radius: 8px; margin: 14px 0; overflow: hidden; }
.finding header { display: flex; flex-wrap: wrap; gap: 8px; align-items: baseline; padding: 10px 14px; background: var(--bg); border-bottom: 1px solid var(--line); }
.finding .body { padding: 10px 14px; }
.pill { font-size: 12px; font-weight: 600; border-radius: 10px; padding: 1px 8px; color: #fff; text-transform: uppercase; }
.high { background: #c62828; } .medium { background: #b35900; } .low { background: #0969da; }
.debt { background: #6e40c9; }
.failed { background: #c62828; } .passed { background: #1a7f37; } .skipped { background: #8c959f; } .confirmed { background: #8250df; }
code, pre { font: 13px/1.45 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
.rule { font-weight: 600; }
.loc { color: var(--muted); }
.impact { color: var(--muted); margin: 6px 0 10px; }
pre { margin: 8px 0; padding: 8px 0; background: #fbfcfd; border: 1px solid var(--line); border-radius: 6px; overflow-x: auto; }
pre span { display: block; padding: 0 12px; white-space: pre; }
pre .hit { background: #fff5d6; }
pre .n { display: inline-block; width: 3.5em; color: #8c959f; user-select: none; padding: 0; }
pre.diff .add { background: #e6ffec; } pre.diff .del { background: #ffebe9; } pre.diff .hunk { color: #0969da; }
details summary { cursor: pointer; color: var(--muted); }
table { border-collapse: collapse; width: 100%; }
td, th { text-align: left; padding: 6px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
.clean { color: #1a7f37; }
.gap { border: 1px solid #b35900; background: #fff8eb; border-radius: 8px; padding: 10px 14px; }
</style>
</head>
<body>
<main>
<h1>prodready report</h1>
<p class="meta"><code>{{ root }}</code> — {{ files }} files, {{ total }} finding{{ "" if total == 1 else "s" }}{% if known %}, {{ known }} known debt{% endif %}{% if suppressed %}, {{ suppressed|length }} suppressed{% endif %} · prodready {{ version }}</p>

{% if gap %}<p class="gap"><strong>{{ gap }}.</strong> The five steps review a FastAPI or Flask backend, so no readiness scores are given{% if total %}; the findings below still apply{% endif %}.</p>{% endif %}
<div class="chart">
<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="Readiness score per step" width="100%" viewBox="0 0 {{ 200 + bar_width + 150 }} {{ 20 + steps|length * 40 }}">
{% for s in steps %}{% set y = 12 + loop.index0 * 40 %}
  <text x="0" y="{{ y + 19 }}" font-size="15" fill="#1f2328">{{ s.number }}. {{ s.title }}</text>
  <rect x="190" y="{{ y }}" width="{{ bar_width }}" height="26" rx="4" fill="#e6e9ed"/>
{% if s.score is not none %}
  <rect x="190" y="{{ y }}" width="{{ (bar_width * s.score / 100)|round(1) }}" height="26" rx="4" fill="{{ s.color }}"/>
  <text x="{{ 200 + bar_width }}" y="{{ y + 19 }}" font-size="15" font-weight="600" fill="{{ s.color }}">{{ s.score }}/100</text>
{% else %}
  <text x="200" y="{{ y + 19 }}" font-size="14" fill="#59636e">{{ s.not_scored }}</text>
{% endif %}
  <text x="{{ 270 + bar_width }}" y="{{ y + 19 }}" font-size="13" fill="#59636e">{{ s.count }} finding{{ "" if s.count == 1 else "s" }}</text>
{% endfor %}
</svg>
</div>

{% if rehearsal %}
<h2 id="rehearsal">Staging rehearsal <span class="loc">— {{ rehearsal.app }}, run on 127.0.0.1 against a throwaway database</span></h2>
<p class="meta">{{ rehearsal.summary.failed }} failed (the problem is real), {{ rehearsal.summary.passed }} passed, {{ rehearsal.summary.skipped }} skipped; {{ rehearsal.summary.requests }} requests in {{ rehearsal.summary.seconds }} s</p>
<table><tr><th>outcome</th><th>probe</th><th>route</th><th>rule</th><th>what happened</th></tr>
{% for p in rehearsal.rows %}<tr><td><span class="pill {{ p.outcome }}">{{ p.outcome }}</span></td><td>{{ p.kind }}</td><td><code>{{ p.method or "" }} {{ p.path or "-" }}</code></td><td>{% if p.rule %}<code>{{ p.rule }}</code>{% else %}-{% endif %}</td><td>{{ p.reason }}</td></tr>
{% endfor %}</table>
{% if rehearsal.broken %}<p>Happy paths that did not answer 2xx (or an HTML form's redirect):</p><ul>{% for h in rehearsal.broken %}<li><code>{{ h.method }} {{ h.path }}</code> ({{ h.step }}) answered {{ h.status }}</li>{% endfor %}</ul>{% endif %}
{% if rehearsal.users %}<p class="meta">users: {{ rehearsal.users }}</p>{% endif %}
{% endif %}

{% if more_fixes %}<p class="meta">Proposed diffs are shown for the first {{ max_previews }} fixable findings; <code>prodready fix --diff</code> shows every fix.</p>{% endif %}
{% for s in steps %}
<h2 id="{{ s.value }}">{{ s.number }}. {{ s.title }} <span class="loc">— {% if s.score is not none %}score {{ s.score }}/100{% else %}{{ s.not_scored }}{% endif %}</span></h2>
{% if not s.checked %}<p class="meta">Not checked: no rule of this step was selected (--select, --ignore or the configuration).</p>
{% elif not s.findings %}<p class="clean">Nothing found in this step.</p>{% endif %}
{% for item in s.findings %}{% set f = item.finding %}
<section class="finding">
  <header>
    <span class="pill {{ f.severity.value }}">{{ f.severity.value }}</span>
    {% if item.confirmed %}<span class="pill confirmed" title="a rehearsal probe showed this happening">confirmed by the rehearsal</span>{% endif %}
    {% if item.fixme is not none %}<span class="pill debt" title="{{ item.fixme }}">known debt</span>{% endif %}
    <span class="rule">{{ f.rule }} {{ f.name }}</span>
    <span class="loc">{{ f.path }}:{{ f.line }}</span>
  </header>
  <div class="body">
    <div>{{ f.message }}</div>
    {% if item.impact %}<div class="impact">{{ item.impact }}</div>{% endif %}
    {% if item.fixme %}<div class="impact">fixme: {{ item.fixme }}</div>{% endif %}
    {% if item.excerpt %}<pre>{% for n, text, hit in item.excerpt.lines %}<span{% if hit %} class="hit"{% endif %}><span class="n">{{ n }}</span>{{ text }}</span>{% endfor %}</pre>{% endif %}
    {% if item.diff %}<details open><summary>Proposed fix ({{ f.fix_safety.value if f.fix_safety else "review" }})</summary><pre class="diff">{% for line in item.diff %}<span class="{{ line.kind }}">{{ line.text }}</span>{% endfor %}</pre></details>
    {% elif item.fix_summary %}<details><summary>How to fix</summary><p>{{ item.fix_summary }}</p></details>{% endif %}
  </div>
</section>
{% endfor %}
{% endfor %}

{% if suppressed %}
<h2 id="suppressed">Suppressed in the code</h2>
<table><tr><th>rule</th><th>location</th><th>reason</th></tr>
{% for f, s in suppressed %}<tr><td><code>{{ f.rule }}</code> {{ f.name }}</td><td class="loc">{{ f.path }}:{{ f.line }}</td><td>{{ s.reason or "(no reason given)" }}</td></tr>
{% endfor %}</table>
{% endif %}

{% if diagnostics %}
<h2 id="not-analysed">Files not analysed</h2>
<ul>{% for d in diagnostics %}<li><code>{{ d.path }}</code>: {{ d.message }}</li>{% endfor %}</ul>
{% endif %}
</main>
</body>
</html>
"""


def diff_lines(diff: str) -> list[dict[str, str]]:
    rows = []
    for line in diff.splitlines():
        kind = "hunk" if line.startswith("@@") else "add" if line.startswith("+") and not line.startswith("+++") else ""
        if line.startswith("-") and not line.startswith("---"):
            kind = "del"
        rows.append({"kind": kind, "text": mask_secrets(line)})  # shown, not applied: `prodready fix` writes the real diff
    return rows


def rehearsal_view(data: dict | None) -> dict | None:
    """The rehearsal's JSON (`prodready rehearse --format json`) as the report's section: failed
    probes first, then passed, then skipped."""
    if not data:
        return None
    order = {"failed": 0, "passed": 1, "skipped": 2}
    rows = sorted(data.get("probes", []), key=lambda p: order.get(p.get("outcome"), 3))
    # A 2xx, or the redirect an HTML form answers with, is a working happy path (auditor.rehearse.compare.answered).
    broken = [h for h in data.get("happy_paths", []) if not (isinstance(h.get("status"), int) and (200 <= h["status"] < 300 or h["status"] in (301, 302, 303)))]
    counts = {"failed": 0, "passed": 0, "skipped": 0, "requests": 0, "seconds": 0, **data.get("summary", {})}
    return {"app": data.get("app", ""), "rows": rows, "broken": broken, "summary": counts, "users": data.get("users")}


def render_html(result: ScanResult, rehearsal: dict | None = None, **_: object) -> str:
    """rehearsal: the JSON of `prodready rehearse` (as a dict) adds its table, and marks the
    findings a probe showed to be real."""
    rules = all_rules()
    confirmed = {(f["rule"], f["path"], f["line"]) for f in (rehearsal or {}).get("confirmed_findings", [])}
    status = step_status(result)
    gap = audit_gap(result)
    sources: dict[str, list[str]] = {}
    previews = 0
    steps = []
    for step, findings in result.by_step().items():
        items = []
        for finding in findings:
            if finding.path not in sources:
                sources[finding.path] = result.index.source(finding.path).splitlines()
            fixme = result.fixme.get(finding)
            cls = rules.get(finding.rule)
            diff = None
            if finding.fixable and previews < MAX_PREVIEWS:
                previews += 1
                diff = proposed_diff(result, finding)
            items.append(
                {
                    "finding": finding,
                    "fixme": fixme.reason if fixme else None,
                    "confirmed": (finding.rule, finding.path, finding.line) in confirmed,
                    "impact": cls.impact if cls else "",
                    "fix_summary": cls.fix_summary if cls else "",
                    "excerpt": excerpt(sources[finding.path], finding),
                    "diff": diff_lines(diff) if diff else None,
                }
            )
        entry = status[step]
        steps.append(_step_view(step, entry.get("score"), items, entry["checked"], not_scored_reason(result, step, status)))
    environment = Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)
    return environment.from_string(TEMPLATE).render(
        root=str(result.root),
        root_name=result.root.name,
        files=result.files,
        total=len(result.findings),
        known=sum(1 for f in result.findings if f in result.fixme),
        suppressed=result.suppressed,
        diagnostics=result.diagnostics,
        steps=steps,
        bar_width=BAR_WIDTH,
        version=__version__,
        more_fixes=sum(1 for f in result.findings if f.fixable) > MAX_PREVIEWS,
        max_previews=MAX_PREVIEWS,
        rehearsal=rehearsal_view(rehearsal),
        gap=f"{gap[1][0].upper()}{gap[1][1:]}" if gap else None,
    )


def _step_view(step: Step, score: int | None, items: list[dict], checked: bool = True, not_scored: str = "") -> dict:
    return {
        "value": step.value,
        "number": step.number,
        "title": step.title,
        "score": score,
        "checked": checked,
        "not_scored": not_scored,
        "color": score_color(score) if score is not None else "#8c959f",
        "count": len(items),
        "findings": items,
    }
