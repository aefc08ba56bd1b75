"""Bad configuration files, fuzzed: always a clear error naming the key and line, never a
traceback; bounded time and memory (an alias bomb is refused before it is expanded).

The mutations start from ``config.example.yaml`` (every setting), so every key of the
model is reachable: a value replaced by one of the wrong type or a huge one, an unknown key
added, the text cut or garbled, the file saved in another encoding. A few files go through
the real command line too (``config validate``, ``check``, ``run``, the console).
"""

from __future__ import annotations

import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from console.config.loader import ConfigError, load_file, parse
from console.config.model import Config
from console.config.yaml_limits import MAX_EXPANDED_NODES

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = (ROOT / "config.example.yaml").read_text()
BASE = yaml.safe_load(EXAMPLE)
FUZZ = settings(max_examples=60, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

TRIED = {"n": 0}


@pytest.fixture(scope="module", autouse=True)
def _report_inputs(tally):
    yield
    tally.inputs(TRIED["n"])


def leaf_paths(data, path=()) -> list[tuple]:
    """Every key path of the example, mappings and leaves alike."""
    found = [path] if path else []
    if isinstance(data, dict):
        for key, value in data.items():
            found += leaf_paths(value, (*path, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            found += leaf_paths(value, (*path, i))
    return found


PATHS = leaf_paths(BASE)


def value_at(data, path):
    for part in path:
        data = data[part]
    return data


def replaced(data, path, value):
    """A deep copy of data with the value at path replaced."""
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(data, dict):
        return {k: (replaced(v, rest, value) if k == head else v) for k, v in data.items()}
    return [replaced(v, rest, value) if i == head else v for i, v in enumerate(data)]


MAPPINGS = [()] + [p for p in PATHS if isinstance(value_at(BASE, p), dict)]

HUGE = st.sampled_from([10**4000, -10**4000, 10**30, float("inf"), float("-inf"),
                        float("nan"), 1e308, -1, 0, "x" * 200_000, ["x"] * 10_000])
WRONG = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=40),
    st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=8), st.integers(),
                                                         max_size=2),
    HUGE,
)


def dump(data) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=10**6)


def outcome(text: str) -> Config | ConfigError:
    """Config or ConfigError: any other exception escapes and fails the test."""
    TRIED["n"] += 1
    try:
        return parse(text, "fuzz.yaml")
    except ConfigError as err:
        return err


def assert_clear(err: ConfigError) -> None:
    assert err.problems, err
    for problem in err.problems:
        assert problem.message.strip(), err.render()
        assert "Traceback" not in problem.message


def touches(problem_path: str, path: tuple) -> bool:
    dotted = ".".join(str(p) for p in path)
    return (problem_path == dotted or problem_path.startswith(dotted + ".")
            or dotted.startswith(problem_path + ".") or problem_path == "")


def line_of_key(text: str, path: tuple) -> int:
    """The line where the last key of ``path`` is written in a block-style dump."""
    node = yaml.compose(text)
    line = 1
    for part in path:
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if key_node.value == part:
                    line, node = key_node.start_mark.line + 1, value_node
                    break
        else:
            node = node.value[part]
            line = node.start_mark.line + 1
    return line


def test_the_example_config_is_valid():
    assert isinstance(outcome(EXAMPLE), Config)


@FUZZ
@given(path=st.sampled_from(PATHS), value=WRONG)
def test_a_wrong_or_huge_value_is_refused_naming_its_key_or_accepted(path, value):
    text = dump(replaced(BASE, path, value))
    result = outcome(text)
    if isinstance(result, Config):
        return  # e.g. a string where any string goes
    assert_clear(result)
    assert any(touches(p.path, path) for p in result.problems), (path, result.render())
    assert all(p.line for p in result.problems), result.render()


@FUZZ
@given(where=st.sampled_from(MAPPINGS),
       key=st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1,
                   max_size=30))
def test_an_unknown_key_is_named_with_its_line(where, key):
    mapping = value_at(BASE, where)
    if key in mapping:
        return
    environments = where == ("environments",)  # a new key there is a new environment
    text = dump(replaced(BASE, where, {**mapping, key: {"bogus": 1}}))
    result = outcome(text)
    assert isinstance(result, ConfigError), (where, key)
    assert_clear(result)
    if environments:
        return
    dotted = ".".join(str(p) for p in (*where, key))
    [problem] = [p for p in result.problems if p.path == dotted]
    assert problem.message.startswith("unknown key")
    assert problem.line == line_of_key(text, (*where, key))


@FUZZ
@given(cut=st.integers(0, len(EXAMPLE)), junk=st.text(max_size=12))
def test_cut_or_garbled_text_gives_a_clear_error(cut, junk):
    result = outcome(EXAMPLE[:cut] + junk + EXAMPLE[cut:cut + 400])
    if isinstance(result, ConfigError):
        assert_clear(result)


@FUZZ
@given(st.text(max_size=300))
def test_arbitrary_text_gives_config_or_a_clear_error(text):
    result = outcome(text)
    if isinstance(result, ConfigError):
        assert_clear(result)


ENCODINGS = ["utf-16", "utf-16-le", "utf-32", "latin-1", "cp1252", "shift_jis"]


@FUZZ
@given(encoding=st.sampled_from(ENCODINGS), word=st.text(
    st.characters(min_codepoint=0xA0, max_codepoint=0x2FF), min_size=1, max_size=8),
    noise=st.binary(max_size=16))
def test_a_file_in_another_encoding_is_refused_with_its_line(tmp_path_factory, encoding, word,
                                                           noise):
    text = EXAMPLE.replace('description: "Production', f'description: "{word} Production', 1)
    try:
        raw = text.encode(encoding) + noise
    except UnicodeEncodeError:
        raw = text.encode("utf-8") + b"\xff" + noise
    path = tmp_path_factory.mktemp("enc") / "config.yaml"
    path.write_bytes(raw)
    TRIED["n"] += 1
    try:
        load_file(path)
    except ConfigError as err:
        assert_clear(err)
        assert all(p.line for p in err.problems), err.render()
    # a latin-1 file of ASCII text only is UTF-8 too: loading it is right


def bomb(width: int, depth: int) -> str:
    lines = [f"l0: &l0 [{', '.join(['lol'] * width)}]"]
    for level in range(1, depth + 1):
        lines.append(f"l{level}: &l{level} [{', '.join([f'*l{level - 1}'] * width)}]")
    return "\n".join(lines) + "\n"


BOMB_FIGURES: list[tuple[int, int, float, int]] = []


@settings(max_examples=25, deadline=None, derandomize=True)
@given(width=st.integers(2, 12), depth=st.integers(6, 12))
def test_an_alias_bomb_is_refused_before_it_is_expanded(width, depth):
    if width ** depth <= MAX_EXPANDED_NODES * 4:
        depth = 30  # always a bomb: at least 2**30 values once expanded
    text = bomb(width, depth)
    tracemalloc.start()
    started = time.perf_counter()
    try:
        result = outcome(text)
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    BOMB_FIGURES.append((width, depth, time.perf_counter() - started, peak))
    assert isinstance(result, ConfigError)
    [problem] = result.problems
    assert "alias" in problem.message and problem.line, result.render()
    assert peak < 64 * 1024 * 1024, f"peak {peak / 2**20:.0f} MiB for {width}^{depth}"


@pytest.mark.parametrize("text, says", ids=[
    "self-alias-list", "self-alias-map", "deep-lists", "deep-maps", "list-key", "duplicate-key",
    "5000-digits", "nul-char", "5-MiB"], argvalues=[
    ("a: &a [*a]\n", "refers to the anchor that contains it"),
    ("a: &a {b: {c: *a}}\n", "refers to the anchor that contains it"),
    ("a: " + "[" * 3000 + "]" * 3000 + "\n", "nested"),
    ("a: " + "{b: " * 200 + "1" + "}" * 200 + "\n", "nested"),
    ("? [a, b]\n: 1\n", "a key must be a plain name"),
    ("version: 1\nversion: 1\n", "duplicate key (first at line 1)"),
    ("version: " + "9" * 5000 + "\n", "unreadable value"),
    ("version: 1\nx: \x00\n", "not valid YAML"),
    ("environments: {}\n" + "# pad\n" * 200_000, "a config is at most"),
])
def test_hostile_yaml_shapes_are_refused(text, says):
    result = outcome(text)
    assert isinstance(result, ConfigError)
    assert says in result.render(), result.render()


def test_bomb_figures():
    """Not a timing test: prints what refusing the fuzzed bombs cost."""
    if not BOMB_FIGURES:
        pytest.skip("no bomb ran")
    worst = max(BOMB_FIGURES, key=lambda f: f[2])
    peak = max(f[3] for f in BOMB_FIGURES)
    print(f"\nalias bombs refused: {len(BOMB_FIGURES)}, slowest {worst[2] * 1000:.1f} ms "
          f"({worst[0]}^{worst[1]} values), peak memory {peak / 2**20:.2f} MiB")


# --- through the real command line -------------------------------------------------------

BAD_FILES = {
    "bomb.yaml": bomb(9, 9).encode(),
    "syntax.yaml": EXAMPLE.replace("environments:", "environments: [", 1).encode(),
    "type.yaml": EXAMPLE.replace("refresh_seconds: 2", "refresh_seconds: [2]", 1).encode(),
    "latin1.yaml": EXAMPLE.replace("Production", "Producción", 1).encode("latin-1", "replace"),
    "recursive.yaml": b"version: &v [*v]\n",
}


def mcp_ops(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "HOME": str(tmp_path),
           "XDG_STATE_HOME": str(tmp_path / "state"), "TERM": "dumb"}
    return subprocess.run([sys.executable, "-m", "console", *args], capture_output=True,
                          text=True, env=env, cwd=tmp_path, timeout=120, stdin=subprocess.DEVNULL)


def runs(path: Path) -> dict[tuple[str, ...], int]:
    """Commands that read a config, with the exit status each must give for a bad one."""
    return {
        ("--config", str(path), "run", "morning-health-check", "--env", "production",
         "--dry-run"): 2,
        ("--config", str(path)): 2,  # the console: refused before the App starts
        # `check` keeps its documented contract (docs/check-json.md): a config it cannot
        # use exits 3, "could not check", so that cron never reads it as CRITICAL (2)
        ("check", "--config", str(path)): 3,
    }


CASES = [(name, "validate") for name in BAD_FILES] + [
    (name, "others") for name in ("bomb.yaml", "latin1.yaml", "syntax.yaml")]


@pytest.mark.parametrize("name, which", CASES, ids=[f"{n}-{w}" for n, w in CASES])
def test_the_command_line_names_the_line_and_exits_2_without_a_traceback(tmp_path, name, which):
    path = tmp_path / name
    path.write_bytes(BAD_FILES[name])
    todo = {("config", "validate", str(path)): 2} if which == "validate" else runs(path)
    for args, code in todo.items():
        TRIED["n"] += 1
        done = mcp_ops(tmp_path, *args)
        assert "Traceback" not in done.stderr + done.stdout, (args, done.stderr)
        assert done.returncode == code, (args, done.returncode, done.stderr)
        assert "line " in done.stderr and str(path) in done.stderr, (args, done.stderr)
