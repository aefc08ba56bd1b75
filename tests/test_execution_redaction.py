"""Redaction of known secret values and of secret-looking patterns."""

from __future__ import annotations

import pytest
from wizard_support import load_config, write_config

from console.execution.redaction import MASK, Redactor, redactor_for


@pytest.mark.parametrize("text, secret", [
    ("key AKIAIOSFODNN7EXAMPLE in output", "AKIAIOSFODNN7EXAMPLE"),
    ("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI/K7MDENG"),
    ('"SecretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"', "wJalrXUtnFEMI"),
    ("connect postgresql://app:s3cr3t-pw@db:5432/x", "s3cr3t-pw"),
    ("redis://:redispass99@cache:6379/0", "redispass99"),
    ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig", "eyJhbGciOiJIUzI1NiJ9"),
    ("posting to https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXX",
     "T000/B000/XXXXXXXXXXXXXXXX"),
    ("PGPASSWORD=topsecret99 psql", "topsecret99"),
    ("connect postgresql://app:pa/ss-w0rd@db:5432/x", "pa/ss-w0rd"),
    ("connect postgresql://app:p@ss-w0rd@db:5432/x", "ss-w0rd"),
    ("redis://ops:sl/ash99@cache:6379/0", "sl/ash99"),
    ("dsn postgresql://app@db:5432/x?sslmode=require&password=a/b9", "a/b9"),
    ("postgresql://app@db/x?password=xyz", "=xyz"),
    ("postgresql://app@db/x?sslpassword=keypw1&sslmode=verify-full", "keypw1"),
])
def test_patterns_hide_the_secret_part(text, secret):
    out = Redactor().text(text)
    assert secret not in out
    assert MASK in out


def test_harmless_text_is_left_alone():
    text = "max_tokens=4096 password_env: MCP_OPS_PG_PASSWORD replicas=6 https://mcp.pratiko.ai/health"
    assert Redactor().text(text) == text
    urls = "postgresql://app@db:5432/x?sslmode=require redis://cache:6379/0 http://h:80/a@b"
    assert Redactor().text(urls) == urls


def test_known_values_are_masked_everywhere_in_nested_data():
    r = Redactor(["longer-secret-value", "secret"])
    data = {"line": "a longer-secret-value b", "list": ["secret!"], "n": 3,
            "secret-key": "x"}
    out = r.data(data)
    assert out == {"line": f"a {MASK} b", "list": [f"{MASK}!"], "n": 3, f"{MASK}-key": "x"}


def test_values_registered_later_are_masked():
    r = Redactor()
    assert r.text("typed pw1234") == "typed pw1234"
    r.add("pw1234")
    assert r.text("typed pw1234") == f"typed {MASK}"


def test_redactor_for_config_knows_the_configured_secrets(tmp_path, monkeypatch):
    monkeypatch.setenv("WZ_TEST_PG_PASSWORD", "pg-pass-from-env")
    monkeypatch.setenv("WZ_TEST_SLACK", "https://example.org/custom-hook-xyz")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-secret-from-env")
    r = redactor_for(load_config(write_config(tmp_path)))
    line = "pg-pass-from-env https://example.org/custom-hook-xyz aws-secret-from-env"
    assert r.text(line) == f"{MASK} {MASK} {MASK}"


def test_structure_after_a_secret_looking_key_is_kept():
    """``secretKeyRef: {name: ...}`` in a plan names where a secret lives, not the secret."""
    from console.execution.redaction import Redactor

    line = "POSTGRES_PASSWORD from secretKeyRef: {name: postgres-credentials, key: password}"
    assert Redactor().text(line) == line
    assert Redactor().text("secret: s3cr3t-value") == "secret: ***"


MANIFEST = """\
apiVersion: v1
kind: Pod
metadata:
  name: postgres-recovery
spec:
  containers:
  - name: postgres
    env:
    - name: POSTGRES_PASSWORD
      valueFrom:
        secretKeyRef:
          name: postgres-credentials
          key: password
    envFrom:
    - secretRef:
        name: app-env
  volumes:
  - name: tls
    secret:
      secretName: postgres-tls
"""


def test_a_manifest_keeps_its_keys_and_the_names_of_its_secrets():
    """Redaction masks secret values, never a YAML key whose value is the block below it,
    nor the name of a Secret object: the plan still parses, and says which Secret."""
    import yaml

    out = Redactor().text(MANIFEST)
    assert out == MANIFEST
    pod = yaml.safe_load(out)
    env = pod["spec"]["containers"][0]["env"][0]
    assert env["valueFrom"]["secretKeyRef"] == {"name": "postgres-credentials", "key": "password"}
    # flattened onto one line (as a one-line view does), still no mask in the structure
    flat = "secretKeyRef: name: postgres-credentials, key: password"
    assert Redactor().text(flat) == flat


@pytest.mark.parametrize("line", [
    "secretName: postgres-tls", "existingSecret: postgres-credentials",
    "secret_name=postgres-credentials", "passwordSecretRef: pg-admin",
    "password_env: MCP_OPS_PG_PASSWORD",
])
def test_keys_naming_a_secret_are_not_secrets(line):
    assert Redactor().text(line) == line


@pytest.mark.parametrize("text, secret", [
    ("password: hunter2-value", "hunter2-value"),
    ("  db_password: 'quoted-pw-1'", "quoted-pw-1"),
    ("client_secret = abcdefgh", "abcdefgh"),
    ('{"api_key": "k-123456"}', "k-123456"),
    ("secret: s3cr3t-value\nname: app", "s3cr3t-value"),
])
def test_secret_values_on_the_keys_line_are_still_masked(text, secret):
    out = Redactor().text(text)
    assert secret not in out and MASK in out
