"""Whole new files come from the jinja2 templates shipped as the `prodready_templates` package."""

from __future__ import annotations

from functools import cache
from importlib.resources import files


@cache
def _environment():
    import jinja2

    def load(name: str) -> str:
        return files("prodready_templates").joinpath(name).read_text(encoding="utf-8")

    return jinja2.Environment(
        loader=jinja2.FunctionLoader(load),
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,  # Python source, not HTML
        undefined=jinja2.StrictUndefined,
    )


def render(name: str, **context) -> str:
    return _environment().get_template(name).render(**context)
