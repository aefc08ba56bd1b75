"""``mcp-ops log export`` of a db-pitr dry run reads well: short table cells, and the
plans' multi-line commands (the recovery manifest) under the table as code blocks that
the timeline links to, still valid YAML with the Secret's name intact.

The dry run and the export are the operator's commands (``mcp-ops run db-pitr --dry-run``,
``mcp-ops log export ID``) as subprocesses; a dry run needs no cluster (plans only).
"""

from __future__ import annotations

import re
import subprocess

import pytest
import yaml
from wizard_support import PYTHON, ROOT, cli_env, write_config

from console.execution.log_export import CELL_MAX, export_markdown
from console.execution.log_store import list_sessions
from console.execution.redaction import Redactor
from console.execution.session_log import SessionLog

pytestmark = pytest.mark.timeout(120)

SECRET = "pg-Secret-7731"


def mcp_ops(tmp_path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([PYTHON, "-m", "console.cli", "--config",
                           str(tmp_path / "config.yaml"), *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=90,
                          env=cli_env(tmp_path, WZ_TEST_PG_PASSWORD=SECRET))


def cells(markdown: str) -> list[str]:
    """Every cell of every table row (header and separator rows included)."""
    return [cell for line in markdown.splitlines() if line.startswith("| ")
            for cell in re.split(r"(?<!\\) \| ", line[2:-2])]


def heading_anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces -> '-'."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def code_blocks(markdown: str) -> list[tuple[str, str]]:
    """(language, text) of every fenced block."""
    return [(m.group(2), m.group(3)) for m in
            re.finditer(r"^(`{3,})(\w*)\n(.*?)\n\1$", markdown, re.S | re.M)]


@pytest.fixture
def pitr_export(tmp_path) -> str:
    write_config(tmp_path)
    run = mcp_ops(tmp_path, "run", "db-pitr", "--env", "sandbox", "--dry-run")
    assert run.returncode == 0, run.stdout + run.stderr
    (session,) = list_sessions(tmp_path / "sessions")
    export = mcp_ops(tmp_path, "log", "export", session.id)
    assert export.returncode == 0, export.stderr
    return export.stdout


def test_pitr_dry_run_export_has_short_cells_and_the_manifest_as_yaml(pitr_export):
    text = pitr_export
    assert SECRET not in text
    longest = max(cells(text), key=len)
    assert len(longest) <= CELL_MAX, longest
    # every plan row links to a heading under the table; every link resolves
    links = re.findall(r"\]\(#([\w-]+)\)", text)
    anchors = {heading_anchor(h) for h in re.findall(r"^### (.+)$", text, re.M)}
    assert len(links) >= 8 and set(links) <= anchors, (links, anchors)
    # the recovery instance's plan: its row is short, its commands are a shell block
    (row,) = [c for c in cells(text) if c.startswith("step 4 plan:")]
    assert "[commands ↓](#record-" in row and "apiVersion" not in row
    shell = [body for lang, body in code_blocks(text) if lang == "sh"]
    (apply,) = [b for b in shell if "kubectl apply -n mcp-production -f - <<EOF" in b]
    manifest = apply.split("<<EOF\n", 1)[1].split("\nEOF\n", 1)[0]
    docs = list(yaml.safe_load_all(manifest))
    assert [d["kind"] for d in docs] == ["PersistentVolumeClaim", "Pod", "Service"]
    env = {e["name"]: e for e in docs[1]["spec"]["containers"][0]["env"]}
    assert env["POSTGRES_PASSWORD"]["valueFrom"] == {
        "secretKeyRef": {"name": "postgres-credentials", "key": "password"}}
    assert "***" not in manifest
    assert "kubectl wait --for=condition=Ready pod/postgres-recovery" in apply


def test_a_long_record_is_shortened_in_the_table_and_written_in_full_below(tmp_path,
                                                                          fixed_operator):
    log = SessionLog.create(tmp_path, label="scaling", env="sandbox", operator=fixed_operator,
                            redactor=Redactor())
    error = "helm upgrade failed: " + " ".join(f"resource-{i} | not ready" for i in range(40))
    log.append("session_start", {"wizard": "scaling", "read_only": False})
    log.append("step_plan", {"step": 0, "id": "scale", "title": "Scale", "risk": "change",
                             "summary": "Scale to 8", "commands": ["kubectl scale --replicas=8"]})
    log.append("output", {"stream": "out", "line": "deployment scaled"})
    log.append("step_end", {"step": 0, "status": "failed", "duration": 1.5, "error": error})
    log.append("session_end", {"status": "failed"})
    log.close()

    text = export_markdown(log.path)

    assert all(len(c) <= CELL_MAX for c in cells(text))
    # a short plan stays on its row, as before
    assert "| step 1 plan: Scale to 8 — `kubectl scale --replicas=8` |" in text
    (row,) = [c for c in cells(text) if c.startswith("step 1 failed")]
    assert row.endswith("— [in full ↓](#record-4-step_end)")
    assert "### Record 4: step_end" in text
    assert any(error in body for lang, body in code_blocks(text) if lang == "text")
    # the output block sits between the rows before and after it, as before
    assert text.index("deployment scaled") < text.index("step 1 failed")
