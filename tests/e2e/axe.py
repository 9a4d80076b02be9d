"""Accessibility checks in the browser tests: axe-core (vendored from npm by frontend/vendor.sh, never from a
CDN) evaluated in the page through Playwright, which is not subject to the page's Content-Security-Policy."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page

from tests.conftest import unavailable
from tests.e2e.conftest import REPO

AXE = REPO / "frontend" / "vendor" / "axe" / "axe.min.js"
# WCAG 2.1 A and AA: what the government's accessibility rules ask of a public service's screens.
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def axe_violations(page: Page, *, include: str | None = None) -> list[dict[str, Any]]:
    """The WCAG A/AA violations axe finds on `page` (or inside the `include` selector), each with its nodes."""
    if not AXE.is_file():
        unavailable(f"{AXE.relative_to(REPO)} is missing: run `npm ci` and `bash vendor.sh` in frontend/")
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    result: dict[str, Any] = page.evaluate(
        """async ([include, tags]) => {
             const r = await window.axe.run(include ? { include: [include] } : document,
                                            { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] });
             return { violations: r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help,
               nodes: v.nodes.map((n) => ({ target: n.target.join(' '), summary: n.failureSummary })) })) };
           }""", [include, TAGS])
    return list(result["violations"])


def describe(violations: list[dict[str, Any]]) -> str:
    lines = []
    for v in violations:
        lines.append(f"{v['id']} ({v['impact']}): {v['help']}")
        lines.extend(f"    {n['target']}: {n['summary']}" for n in v["nodes"][:5])
    return "\n".join(lines)


def assert_accessible(page: Page, *, include: str | None = None) -> None:
    violations = axe_violations(page, include=include)
    assert not violations, "axe-core found accessibility violations:\n" + describe(violations)
