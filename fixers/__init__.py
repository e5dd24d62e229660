"""Codemods that fix what the auditor finds: plans, diffs, atomic apply and undo.

Never imports textual: the CLI and the wizard both drive these functions.
"""
