"""Wizard inputs, fuzzed: every answer is either taken or refused with a message before
anything runs — never an exception, and never a value a later step would choke on.

Two levels: the kernel's input kinds (CIDRs, Kubernetes names, image references, SQL
identifiers, integers) with what an accepted value must satisfy; then every input of every
built wizard (durations, quantities, patterns, node and table lists ...) answered through
:meth:`WizardRun.resolve_inputs`, as ``mcp-ops run --set`` and the runner's form do, with the
platform out of reach (a live list of choices that cannot be read is a refusal too). A few
answers go through the real ``mcp-ops run`` as well.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actions.catalogue import catalogue
from console.config import load_file
from console.execution.confirmation import CommandLineConfirmer
from console.execution.inputs import (
    ImageInput,
    InputError,
    IntInput,
    K8sNameInput,
    NetworkInput,
    SqlIdentifierInput,
)
from console.execution.session import WizardRun

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from wizard_support import ROOT, cli_env, write_config  # noqa: E402

FUZZ = settings(max_examples=80, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
TRIED = {"n": 0}

HOSTILE = [
    "", " ", "\x00", "a\x1b[31mb", "[bold red]x[/]", "x" * 600, "9" * 5000, "-1", "1e999",
    "10.0.0.0/33", "::/200", "10.0.0.1/8", "ab\ncd", "é", "١٢", "٦Gi", "nginx:é", "a@sha256:zz",
    "'; DROP TABLE x;--", "select", "$(rm -rf /)", "`id`", "a,b,,c", "=", "a=b=c", "\u202e",
    "\U0001F600", "0", "00:00", "-5m", "999999999999d", "nan", "inf", "P1D", "1h30m",
    "../../etc/passwd", "*", "%", "\\", "all", "ALL,all", "a" * 64, "\t\t", "\x7f", "\u0085",
]
# text an operator might paste: any unicode, control characters included
ANY_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=80)


@pytest.fixture(scope="module", autouse=True)
def _report_inputs(tally):
    yield
    tally.inputs(TRIED["n"])


def parse(item, raw: str, ctx=None):
    """The parsed value, or the InputError; any other exception fails the test."""
    TRIED["n"] += 1
    try:
        return asyncio.run(item.parse(raw, ctx))
    except InputError as err:
        assert str(err).strip()
        return err


def clean(value: str) -> bool:
    """No control or format characters (ANSI escapes, NUL, bidi overrides) and ASCII only."""
    return value.isascii() and not any(unicodedata.category(c) in ("Cc", "Cf") for c in value)


# ---- the kernel's kinds ---------------------------------------------------------------
CIDRISH = st.builds(lambda parts, bits, sep: ".".join(map(str, parts)) + sep + str(bits),
                    st.lists(st.integers(-1, 300), min_size=3, max_size=5),
                    st.integers(-1, 40), st.sampled_from(["/", "", "/ ", "//"]))


def check_cidr(raw):
    value = parse(NetworkInput("cidr", "CIDR"), raw)
    if not isinstance(value, InputError):
        network = ipaddress.ip_network(value, strict=True)  # no host bits: it round-trips
        assert str(network) == value or str(network.network_address) == value


NAMEISH = st.text(st.sampled_from("abcz09-._AZ é\x00/"), max_size=70)


def check_k8s_name(raw):
    value = parse(K8sNameInput("name", "Name"), raw)
    if not isinstance(value, InputError):
        assert clean(value) and len(value) <= 253 and value == value.lower()


IMAGEISH = st.builds(lambda a, b, c: f"{a}/{b}:{c}", NAMEISH, NAMEISH,
                     st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]),
                             max_size=12))


def check_image(raw):
    value = parse(ImageInput("image", "Image"), raw)
    if not isinstance(value, InputError):
        assert clean(value) and " " not in value and len(value) <= 255, value


def check_sql_identifier(raw):
    value = parse(SqlIdentifierInput("table", "Table"), raw)
    if not isinstance(value, InputError):
        assert clean(value) and len(value) <= 63 and value[0].isalpha() or value[0] == "_"
        assert all(c.isalnum() or c in "_$" for c in value)


def check_integer(raw):
    value = parse(IntInput("replicas", "Replicas", minimum=1, maximum=50), raw)
    if not isinstance(value, InputError):
        assert 1 <= value <= 50
        assert raw.strip().lstrip("+-").isascii(), f"{raw!r} read as {value}"


KINDS = {
    check_cidr: CIDRISH, check_k8s_name: NAMEISH, check_image: IMAGEISH,
    check_sql_identifier: st.text(st.sampled_from("aZ_$9é;\" "), max_size=70),
    check_integer: st.integers().map(str),
}


@pytest.mark.parametrize("check", list(KINDS), ids=lambda c: c.__name__)
def test_kernel_kinds_refuse_the_hostile_list(check):
    for raw in HOSTILE:
        check(raw)


@pytest.mark.parametrize("check", list(KINDS), ids=lambda c: c.__name__)
def test_kernel_kinds_fuzzed(check):
    given(st.one_of(ANY_TEXT, KINDS[check]))(FUZZ(check))()


# ---- every input of every built wizard ------------------------------------------------
BUILT = [w for w in catalogue() if w.built]
ITEMS = [(w.id, item.name) for w in BUILT for item in w.inputs()]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One WizardRun per built wizard on a config whose platform is out of reach."""
    tmp = tmp_path_factory.mktemp("inputs")
    config = load_file(write_config(tmp))
    return {w.id: WizardRun(config=config, env_name="sandbox", wizard=w, read_only=False,
                            confirmer=CommandLineConfirmer(None)) for w in BUILT}


def kind_of(run: WizardRun, name: str) -> str:
    [item] = [i for i in run.wizard.inputs() if i.name == name]
    return item.kind


def check_answer(run: WizardRun, name: str, raw: str) -> None:
    TRIED["n"] += 1
    problems = asyncio.run(run.resolve_inputs({name: raw}, [name]))
    for problem in problems:
        assert problem.message.strip()
    if not problems:
        value = run.ctx.values[name]
        for text in value if isinstance(value, tuple | list) else [value]:
            if isinstance(text, str):
                assert not any(unicodedata.category(c) == "Cc" for c in text), (name, raw, text)
                # '٦Gi' is no quantity for Kubernetes, '١٢' no count: refused up front
                typed = kind_of(run, name) != "text"
                assert not typed or not any(c.isdigit() and not c.isascii() for c in text), (
                    name, raw)


def test_every_wizard_input_refuses_hostile_answers_with_a_message(runs):
    assert len(ITEMS) > 30
    for wizard_id, name in ITEMS:
        for raw in HOSTILE:
            check_answer(runs[wizard_id], name, raw)


@FUZZ
@given(which=st.sampled_from(ITEMS), raw=ANY_TEXT)
def test_every_wizard_input_fuzzed(runs, which, raw):
    wizard_id, name = which
    check_answer(runs[wizard_id], name, raw)


# ---- through the real command line ----------------------------------------------------
@pytest.mark.parametrize("wizard, answer", [
    ("scaling", "replicas=9" * 600),
    ("scaling", "replicas=\x1b[2J"),
    ("velero-restore", "backup=[bold]x[/]"),  # a live choice, the platform out of reach
    ("maintenance-window", "nodes=a,,b"),
])
def test_mcp_ops_run_refuses_before_any_step(tmp_path, wizard, answer):
    config = write_config(tmp_path)
    TRIED["n"] += 1
    done = subprocess.run(
        [sys.executable, "-m", "console", "--config", str(config), "run", wizard, "--env",
         "sandbox", "--set", answer, "--confirm", "sandbox"],
        capture_output=True, text=True, env=cli_env(tmp_path), cwd=ROOT, timeout=120,
        stdin=subprocess.DEVNULL)
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    assert answer.split("=")[0] + ":" in done.stderr, done.stderr
    [log] = (tmp_path / "sessions").glob("*.jsonl")
    events = [json.loads(line)["event"] for line in log.read_text().splitlines()]
    assert "input_rejected" in events
    assert not {"step_plan", "step_start", "step_end"} & set(events), events
