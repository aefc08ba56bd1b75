"""``mcp-ops wizards``: the catalogue — id, title, guide section, highest risk, built or not."""

from __future__ import annotations

from actions.catalogue import catalogue


def rows() -> list[tuple[str, str, str, str, str]]:
    return [(w.id, w.title, w.section, w.highest_risk.label, "" if w.built else "planned")
            for w in catalogue()]


def main(args) -> int:
    table = rows()
    header = ("ID", "TITLE", "RUNBOOK SECTION", "RISK", "")
    widths = [max(len(r[i]) for r in [header, *table]) for i in range(4)]
    for row in [header, *table]:
        cells = [row[i].ljust(widths[i]) for i in range(4)]
        print("  ".join(cells + [row[4]]).rstrip())
    built = sum(1 for r in table if not r[4])
    print(f"\n{len(table)} wizards, {built} built; run one with "
          "`mcp-ops run ID --env ENV --dry-run` to see its plan.")
    return 0
