"""Secrets shown to a reader are masked: the password in a connection URL becomes `***`.

One function for every place that shows the user's code or values from it: rule messages
(`postgresql://postgres:***@db/app`), the code excerpts and proposed diffs of the reports,
and the wizard's code panel. Masking the message but not the excerpt below it would only
point at the secret.
"""

from __future__ import annotations

import re

# scheme://user:password@ (the password stops at '@', whitespace or a quote: in code the URL
# sits in a string literal, and the text after its closing quote is not part of it)
URL_PASSWORD = re.compile(r"(\b[A-Za-z][\w+.-]*://[^:/@\s'\"]*):([^@\s'\"]+)@")


def mask_secrets(text: str) -> str:
    """`text` with every URL password replaced by `***` (the user name and host stay readable)."""
    if "://" not in text:
        return text
    return URL_PASSWORD.sub(r"\1:***@", text)
