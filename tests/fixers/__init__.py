"""Tests of the fix engine and the codemods."""
