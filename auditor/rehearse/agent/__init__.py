"""The rehearsal's client, run in the server's network namespace (standard library only)."""
