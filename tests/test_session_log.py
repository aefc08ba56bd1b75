"""The session log's hash chain: untouched logs verify, every kind of tampering is named."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from console.execution.log_export import export_markdown
from console.execution.log_store import list_sessions, resolve, verify
from console.execution.redaction import Redactor
from console.execution.session_log import SessionLog, head_path
from console.identity import Operator

OPERATOR = Operator("oncall", "ops-1", "192.0.2.10")


def write_session(directory: Path, *, records: int = 8, end: bool = True) -> Path:
    log = SessionLog.create(directory, label="scaling", env="staging", operator=OPERATOR,
                            redactor=Redactor(["hunter2-secret"]))
    log.append("session_start", {"wizard": "scaling", "read_only": False}, sync=True)
    for i in range(records - (2 if end else 1)):
        log.append("output", {"step": 0, "line": f"line {i} with hunter2-secret inside"})
    if end:
        log.append("session_end", {"status": "completed"}, sync=True)
    log.close()
    return log.path


def lines_of(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


@pytest.fixture
def session(tmp_path) -> Path:
    return write_session(tmp_path)


def test_untouched_log_verifies(session):
    result = verify(session)
    assert result.ok, result.describe()
    assert len(result.records) == 8 and result.ended and result.anchored
    assert [r["seq"] for r in result.records] == list(range(1, 9))
    assert result.records[0]["operator"] == {"user": "oncall", "host": "ops-1",
                                             "ssh_client": "192.0.2.10"}


def test_records_are_redacted_and_chained(session):
    text = session.read_text()
    assert "hunter2-secret" not in text
    records = [json.loads(line) for line in text.splitlines()]
    assert records[0]["prev"] == "0" * 64
    assert all(b["prev"] == a["hash"] for a, b in zip(records, records[1:], strict=False))


def test_one_byte_edited_names_the_record(session):
    raw = bytearray(session.read_bytes())
    start = sum(len(line) for line in lines_of(session)[:4])  # record 5 begins here
    offset = raw.index(b"line 3", start) + 5
    raw[offset] = ord("9")  # "line 3" -> "line 9" in record 5
    session.write_bytes(bytes(raw))
    result = verify(session)
    assert not result.ok
    assert result.bad_seq == 5 and result.bad_line == 5
    assert "edited" in result.reason


def test_deleted_line_names_the_missing_record(session):
    lines = lines_of(session)
    del lines[3]  # record 4
    session.write_bytes(b"".join(lines))
    result = verify(session)
    assert not result.ok and result.bad_seq == 4
    assert "missing" in result.reason and "deleted" in result.reason


def test_swapped_lines_name_the_first_out_of_order_record(session):
    lines = lines_of(session)
    lines[2], lines[3] = lines[3], lines[2]  # records 3 and 4
    session.write_bytes(b"".join(lines))
    result = verify(session)
    assert not result.ok and result.bad_seq == 3 and result.bad_line == 3
    assert "reordered" in result.reason


def test_tail_cut_mid_record_is_detected(session):
    raw = session.read_bytes()
    session.write_bytes(raw[:-40])  # cut inside the last record
    result = verify(session)
    assert not result.ok and result.bad_seq == 8
    assert "truncated" in result.reason


def test_whole_last_records_removed_are_caught_by_the_head_anchor(session):
    lines = lines_of(session)
    session.write_bytes(b"".join(lines[:-2]))  # records 7 and 8 removed cleanly
    result = verify(session)
    assert not result.ok and result.bad_seq == 7
    assert "head anchor" in result.reason and "removed" in result.reason


def test_without_head_a_clean_tail_cut_is_reported_as_unanchored(session):
    head_path(session).unlink()
    result = verify(session)
    assert result.ok and not result.anchored
    assert "no .head anchor" in result.describe()


def test_interrupted_log_verifies_and_is_resumable(tmp_path):
    path = write_session(tmp_path, records=5, end=False)
    result = verify(path)
    assert result.ok and not result.ended
    (summary,) = list_sessions(tmp_path)
    assert summary.status == "interrupted" and summary.resumable
    assert summary.operator == "oncall@ops-1 from 192.0.2.10"


def test_a_session_being_written_is_listed_as_running(tmp_path):
    log = SessionLog.create(tmp_path, label="scaling", env="staging", operator=OPERATOR,
                            redactor=Redactor())
    log.append("session_start", {"wizard": "scaling"})
    try:
        (summary,) = list_sessions(tmp_path)
        assert summary.status == "running" and not summary.resumable
    finally:
        log.close()


def test_resolve_by_prefix_and_file(session, tmp_path):
    assert resolve(session.stem[:20], tmp_path) == session
    assert resolve(str(session), tmp_path / "elsewhere") == session
    with pytest.raises(FileNotFoundError):
        resolve("no-such", tmp_path)


def test_export_markdown_is_a_redacted_timeline(session):
    text = export_markdown(session, Redactor(["hunter2-secret"]))
    assert text.startswith(f"# Session {session.stem}: scaling")
    assert "integrity: OK" in text and "192.0.2.10" in text
    assert "hunter2-secret" not in text
    assert "session end: completed" in text


@pytest.mark.timeout(60)
def test_cli_log_verify_exits_1_naming_the_record(session, tmp_path):
    lines = lines_of(session)
    del lines[5]
    session.write_bytes(b"".join(lines))
    out = subprocess.run([sys.executable, "-m", "console.cli", "log", "verify", str(session)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "record 6" in out.stdout
    good = write_session(tmp_path / "other")
    out = subprocess.run([sys.executable, "-m", "console.cli", "log", "verify", str(good)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "OK: 8 records" in out.stdout
