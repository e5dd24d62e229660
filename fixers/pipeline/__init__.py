"""The machinery behind every fix, in the order a fix travels through it.

finding ─▶ workspace (the texts a plan is built on) ─▶ plan (fixer by fixer, each output
checked) ─▶ diff (what the user sees) ─▶ verify (the project's own tests, opt-in) ─▶ apply
(atomic, backed up; storage) ─▶ undo. The codemods themselves live beside this package in
fixers/.
"""
