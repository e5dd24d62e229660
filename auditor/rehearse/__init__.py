"""`prodready rehearse`: boot the user's app on 127.0.0.1 against a throwaway database and run
the failure paths against it (wrong inputs, missing or forged tokens, another user's objects,
duplicate submissions, password guessing), each probe tied to the rule it confirms.

Layout: target.py (what to boot and probe, from the scan's index), environment.py (settings,
generated secrets, the throwaway database), boot.py (the real server in the shared sandbox of
fixers/pipeline/runner.py), run.py (the whole rehearsal), report.py (text and JSON). agent/ is
the client: it runs inside the server's network namespace, with the standard library only.

Kept free of imports: agent/ is started with `python -I` and imports this package.
"""
