"""The core (discovery, index, rules, fixers, reports) never imports textual."""

import subprocess
import sys


def test_scan_engine_does_not_import_textual():
    code = (
        "import sys, auditor.engine, auditor.report, auditor.cli, fixers\n"
        "from auditor.rules.base import all_rules; all_rules()\n"
        "bad = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))\n"
        "print(bad); raise SystemExit(1 if bad else 0)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
