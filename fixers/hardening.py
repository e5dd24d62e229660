"""Browser-facing hardening: CORS limited to the configured origins (PR223) and session cookies
marked Secure/HttpOnly/SameSite outside development (PR224)."""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m

from auditor.models import Finding
from fixers.base import Fixer, Outcomes
from fixers.cst import FixCommand, dotted_name
from fixers.rewrite import keyword, set_keyword, statements, tail
from fixers.settings import ENVIRONMENT_ALIASES, ReadsSettings, fix_reading_settings

ORIGINS = '[origin for origin in {cors_origins}.split(",") if origin]'
SECURE = '{app_env} != "development"'
# The settings these read (read_setting's arguments), the project's way.
SETTINGS = {
    "cors_origins": ("CORS_ORIGINS", "", str),
    "app_env": ("APP_ENV", "development", str, ENVIRONMENT_ALIASES),
}
WILDCARD_REGEX = {".*", "^.*$", ".+", "https?://.*"}


def _is_wildcard(node: cst.BaseExpression | None) -> bool:
    if isinstance(node, cst.SimpleString):
        return node.evaluated_value == "*"
    return isinstance(node, (cst.List, cst.Tuple, cst.Set)) and any(
        isinstance(e.value, cst.SimpleString) and e.value.evaluated_value == "*" for e in node.elements
    )


class CorsOrigins(ReadsSettings, FixCommand):
    """`allow_origins=["*"]` with credentials -> the origins listed in CORS_ORIGINS."""

    ONLY_WHERE_TARGETED = True

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.Call:
        targets = [] if self.untargeted(original_node) else self.targets_at(original_node) or [t for t in self.targets if t.finding not in self.outcomes and t.line == self.span(original_node).start.line and t.col is None]
        if not targets:
            return updated_node
        name = tail(dotted_name(original_node.func) or "")
        call = updated_node
        if name in {"CORS", "cross_origin", "init_app"}:  # Flask-CORS spells it `origins` everywhere
            call = set_keyword(call, "origins", self.origins())
        else:
            origins, regex = keyword(call, "allow_origins"), keyword(call, "allow_origin_regex")
            if origins is not None and not _is_wildcard(origins.value) or regex is not None and not isinstance(regex.value, cst.SimpleString):
                self.skipped(targets, "by hand: the allowed origins come from a variable; list your front-end origins there")
                return updated_node
            if regex is not None and isinstance(regex.value, cst.SimpleString) and regex.value.evaluated_value in WILDCARD_REGEX:
                call = call.with_changes(args=[a for a in call.args if a is not regex])
                call = call.with_changes(args=[*call.args[:-1], call.args[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)]) if call.args else call
            if origins is None or _is_wildcard(origins.value):
                call = set_keyword(call, "allow_origins", self.origins())
        self.fixed(targets)
        return call

    def origins(self) -> str:
        return ORIGINS.format(cors_origins=self.setting("cors_origins"))


class SecureCookies(ReadsSettings, FixCommand):
    """Session cookies Secure outside development, HttpOnly and SameSite=Lax."""

    def _targets(self, node: cst.CSTNode) -> list:
        line = self.span(node).start.line
        return [t for t in self.targets if t.finding not in self.outcomes and t.line == line]

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.Call:
        targets = self._targets(original_node)
        if not targets:
            return updated_node
        name = tail(dotted_name(original_node.func) or "")
        call = updated_node
        if name == "set_cookie":
            for flag, value in (("secure", SECURE), ("httponly", "True"), ("samesite", '"lax"')):
                current = keyword(call, flag)
                if current is None or m.matches(current.value, m.Name("False")):
                    call = set_keyword(call, flag, self.secure() if value == SECURE else value)
        elif name == "update":
            call = set_keyword(call, "SESSION_COOKIE_SECURE", self.secure())
        elif name in {"add_middleware", "Middleware"}:
            call = set_keyword(call, "https_only", self.secure())
        else:
            return updated_node
        self.fixed(targets)
        return call

    def secure(self) -> str:
        return SECURE.format(app_env=self.setting("app_env"))

    def leave_SimpleStatementLine(self, original_node: cst.SimpleStatementLine, updated_node: cst.SimpleStatementLine):
        targets = self._targets(original_node)
        if not targets or not m.matches(updated_node, m.SimpleStatementLine(body=[m.Assign()])):
            return updated_node
        assign = updated_node.body[0]
        target = assign.targets[0].target
        if isinstance(target, cst.Attribute) and target.attr.value == "secret_key":
            owner = dotted_name(target.value) or "app"
            added = statements(
                f'{owner}.config.update(SESSION_COOKIE_SECURE={self.secure()}, SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax")\n'
            )
            self.fixed(targets)
            return cst.FlattenSentinel([updated_node, *added])
        if m.matches(assign.value, m.Name("False")):
            self.fixed(targets)
            return updated_node.with_changes(body=[assign.with_changes(value=cst.parse_expression(self.secure()))])
        return updated_node


class CorsFixer(Fixer):
    def fix_file(self, relpath: str, findings: list[Finding], ws) -> Outcomes:
        # Hand-written headers echoing the request's Origin: no CORS call to give a list to.
        echoed = {f: "by hand: the response echoes every Origin; answer only the origins of your front end" for f in findings if f.message.startswith("every request's Origin")}
        rest = [f for f in findings if f not in echoed]
        return {**(fix_reading_settings(CorsOrigins, relpath, rest, ws, SETTINGS) if rest else {}), **echoed}


class CookieFixer(Fixer):
    def fix_file(self, relpath: str, findings: list[Finding], ws) -> Outcomes:
        return fix_reading_settings(SecureCookies, relpath, findings, ws, SETTINGS)
