"""The configuration loader: the example loads, and every class of error names key and line."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from console.config import ConfigError, discover, load_file, parse, secret_values

EXAMPLE_CONFIG = Path(__file__).resolve().parent.parent / "config.example.yaml"

EXAMPLE = EXAMPLE_CONFIG.read_text()


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    start = -1
    for _ in range(occurrence):
        start = text.index(needle, start + 1)
    return text.count("\n", 0, start) + 1


def problems(text: str) -> list:
    with pytest.raises(ConfigError) as info:
        parse(text, "test.yaml")
    return info.value.problems


def test_example_loads_with_the_four_environments():
    config = load_file(EXAMPLE_CONFIG)
    assert list(config.environments) == ["production", "staging", "dr", "sandbox"]
    prod = config.environments["production"]
    assert prod.protected and not prod.read_only
    assert config.environments["dr"].read_only
    assert prod.kubernetes.namespace == "mcp-production"
    assert prod.thresholds.error_rate_pct.critical == 5
    assert config.environment()[0] == "staging"  # default_environment


def test_misspelt_key_names_path_line_and_suggestion():
    bad = EXAMPLE.replace("      hpa: mcp-server-hpa", "      hpaa: mcp-server-hpa", 1)
    [p] = problems(bad)
    assert p.path == "environments.production.kubernetes.hpaa"
    assert p.line == line_of(bad, "hpaa:")
    assert "unknown key" in p.message and "'hpa'" in p.message


def test_wrong_type_names_path_and_line():
    bad = EXAMPLE.replace("normal_replicas: 6 ", "normal_replicas: lots ", 1)
    [p] = problems(bad)
    assert p.path == "environments.production.kubernetes.normal_replicas"
    assert p.line == line_of(bad, "normal_replicas: lots")
    assert "integer" in p.message and "'lots'" in p.message


def test_missing_required_value_points_at_its_parent_mapping():
    bad = EXAMPLE.replace("    service:\n      base_url: https://mcp-staging.pratiko.ai\n", "    service:\n", 1)
    [p] = problems(bad)
    assert p.path == "environments.staging.service.base_url"
    assert "required" in p.message
    assert p.line == line_of(bad, "    service:", 2)


def test_password_in_dsn_is_refused():
    bad = EXAMPLE.replace("postgresql://mcp_ops@postgres-staging", "postgresql://mcp_ops:hunter2@postgres-staging", 1)
    [p] = problems(bad)
    assert p.path == "environments.staging.postgres.dsn"
    assert "password_env" in p.message


@pytest.mark.parametrize("dsn, where", [
    ("postgresql://mcp_ops:pa/ss@postgres-staging", "user information"),
    ("postgresql://mcp_ops:p@ss@postgres-staging", "user information"),
    ("postgresql://mcp_ops@postgres-staging.mcp-staging:5432/x?password=hunter2&y=", "password"),
    ("postgresql://mcp_ops@postgres-staging.mcp-staging:5432/x?sslmode=verify-full&"
     "sslpassword=keypass", "sslpassword"),
])
def test_password_in_dsn_is_refused_wherever_it_is_written(dsn, where):
    bad = EXAMPLE.replace("postgresql://mcp_ops@postgres-staging", dsn, 1)
    [p] = problems(bad)
    assert p.path == "environments.staging.postgres.dsn"
    assert "password_env" in p.message and where in p.message


@pytest.mark.parametrize("url", ["redis://:s3cret@redis-staging-master.mcp-staging:6379/0",
                                 "redis://ops:pa/ss@redis-staging-master.mcp-staging:6379/0",
                                 "redis://redis-staging-master.mcp-staging:6379/0?password=x1"])
def test_password_in_redis_url_is_refused(url):
    bad = EXAMPLE.replace("redis://redis-staging-master.mcp-staging:6379/0", url, 1)
    [p] = problems(bad)
    assert p.path == "environments.staging.redis.url"
    assert "password_env" in p.message


def test_urls_without_a_password_pass():
    from console.config.urls import inline_password

    for url in ("postgresql://mcp_ops@db:5432/x?sslmode=require&application_name=ops",
                "postgresql://db:5432/x", "postgresql:///x?host=/run/postgresql",
                "postgresql://mcp_ops:@db/x", "redis://ops@cache:6379/0",
                "postgresql://mcp_ops@db/x?password="):
        assert inline_password(url) is None, url


def test_bad_reference_and_bad_yaml_and_empty_file():
    [p] = problems(EXAMPLE.replace("default_environment: staging", "default_environment: stagin"))
    assert "stagin" in p.message and "production" in p.message
    [p] = problems(EXAMPLE.replace("version: 1", "version: [1"))
    assert "not valid YAML" in p.message and p.line is not None
    [p] = problems("")
    assert "empty" in p.message


def test_several_problems_are_all_reported():
    bad = EXAMPLE.replace("read_only: false", "read_only: maybe", 1).replace("region: eu-west-1", "regoin: eu-west-1", 1)
    paths = {p.path for p in problems(bad)}
    assert paths == {"environments.production.read_only", "environments.production.aws.regoin"}


def test_lookup_order(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    xdg = tmp_path / "xdg"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(xdg))
    with pytest.raises(ConfigError) as info:
        discover()
    assert "no configuration file found" in str(info.value)
    (xdg / "mcp-ops").mkdir(parents=True)
    (xdg / "mcp-ops" / "config.yaml").write_text(EXAMPLE)
    assert discover() == xdg / "mcp-ops" / "config.yaml"
    (tmp_path / "mcp-ops.yaml").write_text(EXAMPLE)
    assert discover() == tmp_path / "mcp-ops.yaml"
    other = tmp_path / "other.yaml"
    other.write_text(EXAMPLE)
    monkeypatch.setenv("MCP_OPS_CONFIG", str(other))
    assert discover() == other
    assert discover(EXAMPLE_CONFIG) == EXAMPLE_CONFIG
    monkeypatch.setenv("MCP_OPS_CONFIG", str(tmp_path / "missing.yaml"))
    with pytest.raises(ConfigError, match="MCP_OPS_CONFIG"):
        discover()


def test_secret_values_come_from_named_variables(example_config):
    env = {"MCP_OPS_PG_PASSWORD": "pg-secret-1", "SECURITY_SLACK_WEBHOOK": "https://hooks.slack.com/x",
           "UNRELATED": "not-a-secret"}
    values = secret_values(example_config, env)
    assert "pg-secret-1" in values and "https://hooks.slack.com/x" in values
    assert "not-a-secret" not in values


SECRETS_CONFIG = """\
version: 1
secrets_file: {name}
environments:
  prod:
    postgres: {{dsn: "postgresql://app@db:5432/app", password_env: T_SECRETS_PG}}
    service: {{base_url: "http://svc"}}
    notifications: {{status_page_webhook_env: T_SECRETS_HOOK}}
"""


def _secrets_setup(tmp_path, body: str, mode: int = 0o600, name: str = "ops.secrets"):
    secrets = tmp_path / name
    secrets.write_text(body)
    secrets.chmod(mode)
    config = tmp_path / "c.yaml"
    config.write_text(SECRETS_CONFIG.format(name=name))
    return config


def test_secrets_file_supplies_the_named_variables_and_the_environment_wins(tmp_path, monkeypatch):
    from console.config.secrets import secret

    monkeypatch.delenv("T_SECRETS_PG", raising=False)
    monkeypatch.setenv("T_SECRETS_HOOK", "https://from-the-environment/x")
    config = load_file(_secrets_setup(
        tmp_path, "# ops secrets\n\nexport T_SECRETS_PG='pg-from-file'\n"
                  "T_SECRETS_HOOK=https://from-the-file/y\n"))
    env = config.environments["prod"]
    assert secret(env.postgres.password_env) == "pg-from-file"
    assert secret(env.notifications.status_page_webhook_env) == "https://from-the-environment/x"
    assert "pg-from-file" in secret_values(config)  # redacted like any other secret
    assert "T_SECRETS_PG" not in os.environ  # children do not inherit it


def test_secrets_file_others_may_read_is_refused_with_the_key_line_and_the_fix(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_file(_secrets_setup(tmp_path, "T_SECRETS_PG=x\n", mode=0o644))
    (problem,) = err.value.problems
    assert (problem.path, problem.line) == ("secrets_file", 2)
    assert "others may read it (mode 0644)" in problem.message and "chmod 600" in problem.message


@pytest.mark.parametrize("body, line", [("GOOD=1\nnot a pair\n", 2), ("1BAD=x\n", 1)])
def test_secrets_file_bad_line_is_named(tmp_path, body, line):
    with pytest.raises(ConfigError) as err:
        load_file(_secrets_setup(tmp_path, body))
    assert f"line {line}: expected NAME=value" in err.value.problems[0].message


def test_missing_secrets_file_is_named(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(SECRETS_CONFIG.format(name="nowhere.secrets"))
    with pytest.raises(ConfigError) as err:
        load_file(config)
    assert err.value.problems[0].path == "secrets_file"
    assert "nowhere.secrets" in err.value.problems[0].message
