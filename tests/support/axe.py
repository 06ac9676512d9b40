"""axe-core in a page: the vendored release (tests/web/vendor/axe-core, a test
tool under the MPL, never served) run through the DevTools protocol, which
the pages' Content-Security-Policy does not govern."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from tests.support.paths import ROOT

AXE = ROOT / "tests" / "web" / "vendor" / "axe-core"
#: WCAG 2.0 and 2.1, levels A and AA; WCAG 2.2 AA; and axe's best practices
#: (landmarks, one main, headings in order, ...).
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]

RUN = """async ([tags, exclude]) => {
  const context = exclude.length ? { include: [document], exclude } : document;
  const options = { runOnly: { type: "tag", values: tags }, resultTypes: ["violations"] };
  const result = await window.axe.run(context, options);
  return {
    violations: result.violations.map((v) => ({
      rule: v.id, impact: v.impact, help: v.help,
      nodes: v.nodes.slice(0, 5).map((n) => [n.target.join(" "), n.failureSummary]),
    })),
    passes: result.passes.length,
  };
}"""


@cache
def axe_source() -> str:
    return (AXE / "axe.min.js").read_text(encoding="utf-8")


def run_axe(page: Any, exclude: Sequence[Sequence[str]] = ()) -> dict[str, Any]:
    """axe's violations (and how many rules passed) on the page as it is."""
    page.evaluate(axe_source())
    result: dict[str, Any] = page.evaluate(RUN, [TAGS, [list(e) for e in exclude]])
    return result
