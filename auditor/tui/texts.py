"""The wizard's words: why each step matters, in plain language for a non-expert."""

from __future__ import annotations

from auditor.models import Step


def count(number: int, word: str, plural: str | None = None) -> str:
    """`1 file`, `3 files`, `2 fixes`."""
    return f"{number} {word if number == 1 else plural or word + 's'}"

# (headline, why it matters): the headline is always shown, the rest when there is room.
INTROS = {
    Step.DATA_MODEL: (
        "Your tables outlive your code.",
        "Missing indexes, money stored as floats or emails that are "
        "not unique work fine with ten users and turn into slow pages, wrong totals and duplicate "
        "accounts with ten thousand. Check the Models tab before data piles up on top of them."
    ),
    Step.INFRASTRUCTURE: (
        "Who may call what, and what happens when a neighbour is slow.",
        "An open route leaks data, a "
        "secret in the code leaks everything, and a call without a timeout can freeze every worker "
        "the day a partner's service hangs."
    ),
    Step.VALIDATION: (
        "Everything that comes in from the internet is untrusted.",
        "Check its shape at the door, "
        "never paste it into SQL, page long lists, and make sure a retried request or a failed "
        "background task does not charge twice or vanish silently."
    ),
    Step.STAGING: (
        "One codebase, three places: your laptop, staging and production.",
        "Settings belong in "
        "the environment, each environment needs its own values, and the platform needs a health "
        "check to know when to restart you."
    ),
    Step.LOGGING: (
        "When something breaks at 3 a.m., logs are all you have.",
        "Set logging up once, keep the "
        "traceback, tag each request, and never write passwords or tokens where anyone can read them."
    ),
}

START_HINT = (
    "prodready reads your code (it never runs it) and walks you through five steps. Nothing is "
    "written until you review the changes at the end."
)

BY_HAND = (
    "Run your tests after applying the fixes.",
    "Read the review fixes again: they change behaviour (auth, limits) on purpose.",
    "Set the new settings in each environment (see .env.example when a fix created it).",
    "Scan again in CI: `prodready scan --fail-on high`.",
)
