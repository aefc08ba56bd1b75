"""The configuration a sandbox writes for itself: environments ``sandbox`` and
``sandbox-dr``, every address pointing at the local servers it started.

It is an ordinary mcp-ops configuration file (the schema of ``config.example.yaml``), so
``mcp-ops check``, ``mcp-ops run`` and the console use it exactly as they would a real
one; it is validated by loading it back before anyone is told it exists. Names the runbook
uses (namespace, deployment, bucket, record, RDS identifiers) are kept; only addresses
differ. The moto credentials are named by ``*_env`` keys like any other secret.

When the sandbox runs a Prometheus (``sandbox/prometheus.py``), its URL is
``service.prometheus_url`` — for the range queries of the performance review — while the
dashboard's and the check's request figures stay on the direct scrape
(``request_figures: scrape``). The reason: a scenario switch restarts the simulator's
counters with a backlog at the new behaviour, so one scrape shows the incident at once,
while a PromQL ``rate(...[5m])`` would average the old behaviour in for five minutes (the
high-error-rate scenario would read well under 5 % for minutes). Production keeps
``auto``: PromQL when Prometheus is configured.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import yaml

from console.config import Config, load_file

from . import aws as sandbox_aws


@dataclass(frozen=True)
class Addresses:
    """Where each part of one sandbox listens."""

    kubeconfig: str
    postgres_dsn: str
    redis_url: str
    service_url: str
    dr_service_url: str
    aws_endpoint: str
    route53_zone_id: str
    scenario: str = "healthy"
    dr_postgres_dsn: str | None = None  # the DR region's own database (its replica)
    front_door_url: str | None = None  # the public service name, routed by Route53
    # channel -> the sandbox webhook receiver's secret URL (sandbox/webhooks.py)
    webhooks: dict[str, str] | None = None
    prometheus_url: str | None = None  # the sandbox's Prometheus, when the binary is installed
    # the service host's TLS endpoint (sandbox/service_tls.py): address, name, its CA's PEM
    tls_host: str | None = None
    tls_server_name: str | None = None
    tls_ca_file: str | None = None
    maintenance_manifest: str | None = None  # the runbook's k8s/maintenance-mode.yaml
    # db-pitr's recovery instance (postgres-recovery), as the console reaches it
    recovery_postgres_dsn: str | None = None


# the variables the sandbox's config names for its webhook URLs; their values are in the
# secrets file written next to the config
WEBHOOK_VARIABLES = {"status_page": "MCP_OPS_SANDBOX_STATUS_PAGE_WEBHOOK",
                     "slack": "MCP_OPS_SANDBOX_SLACK_WEBHOOK"}
# the Prometheus job of each region's MCP-server simulator
PROMETHEUS_JOBS = {"sandbox": "mcp-server-production", "sandbox-dr": "mcp-server-dr"}


def _aws(a: Addresses, region: str, rds_primary: str) -> dict:
    return {
        "region": region,
        "endpoint_url": a.aws_endpoint,
        "s3_backup_bucket": sandbox_aws.BUCKET,
        "s3_backup_prefix": sandbox_aws.PREFIX,
        "route53_zone_id": a.route53_zone_id,
        "route53_record": sandbox_aws.RECORD,
        "route53_dr_target": sandbox_aws.DR_TARGET,
        "route53_staging_target": sandbox_aws.STAGING_TARGET,
        "rds_primary_id": rds_primary,
        "rds_dr_replica_id": sandbox_aws.RDS_DR_REPLICA,
        "ec2_environment_tag": "production",
        # no credentials: mcp-ops uses placeholder keys for a loopback endpoint (moto)
    }


def _environment(a: Addresses, *, dr: bool) -> dict:
    return {
        "description": ("Sandbox DR region (eu-central-1), warm standby" if dr else
                        f"Local sandbox of production (started with scenario {a.scenario})"),
        "read_only": False,  # a rehearsal must be able to act, in DR too
        # DR is protected, as the real DR environment is: the failover's typed
        # confirmation is rehearsed too
        "protected": dr,
        "kubernetes": {
            "context": "sandbox-dr" if dr else "sandbox",
            "kubeconfig": a.kubeconfig,
            "namespace": "mcp-production",
            "deployment": "mcp-server-production",
            "normal_replicas": 6,
            "request_timeout": 5,
        },
        "postgres": {"dsn": (a.dr_postgres_dsn or a.postgres_dsn) if dr else a.postgres_dsn,
                     "database": "pratiko_mcp_production",
                     "statement_timeout_ms": 2000,
                     # after db-pitr's switch the dashboard follows the application there
                     **({"recovery_dsn": a.recovery_postgres_dsn}
                        if a.recovery_postgres_dsn and not dr else {})},
        "redis": {"url": a.redis_url},
        "service": {"base_url": a.dr_service_url if dr else a.service_url,
                    "prometheus_url": a.prometheus_url,
                    "prometheus_job": PROMETHEUS_JOBS["sandbox-dr" if dr else "sandbox"],
                    "request_figures": "scrape",  # see the module's docstring
                    **({} if dr or not a.tls_host else {
                        "tls_host": a.tls_host, "tls_server_name": a.tls_server_name,
                        "tls_ca_file": a.tls_ca_file}),
                    "timeout": 3, "public_url": a.front_door_url},
        "aws": _aws(a, sandbox_aws.DR_REGION if dr else sandbox_aws.REGION,
                    sandbox_aws.RDS_DR_REPLICA if dr else sandbox_aws.RDS_PRIMARY),
        "notifications": {"status_page_webhook_env": WEBHOOK_VARIABLES["status_page"],
                          "slack_webhook_env": WEBHOOK_VARIABLES["slack"]},
        "disaster_recovery": {"environment": None if dr else "sandbox-dr"},
        **({"maintenance": {"mode_manifest": a.maintenance_manifest}}
           if a.maintenance_manifest else {}),
    }


def config_dict(a: Addresses, secrets_file: str | None = None) -> dict:
    return {
        "version": 1,
        "default_environment": "sandbox",
        "secrets_file": secrets_file,
        "ui": {"refresh_seconds": 2, "source_timeout_seconds": 3},
        "environments": {"sandbox": _environment(a, dr=False),
                         "sandbox-dr": _environment(a, dr=True)},
    }


HEADER = """\
# Written by `mcp-ops sandbox` for the sandbox running now; its addresses die with it.
# AWS is a local moto server: no credentials are needed (none are sent to it).
# The webhook URLs (the sandbox's own receivers) are in the secrets file beside it.
"""


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.chmod(path, 0o600)  # an existing file keeps its mode through O_TRUNC


def write_config(path: Path, addresses: Addresses) -> Config:
    """Write the sandbox's config to ``path`` and its secrets file beside it (both mode
    0600), and return the config as loaded back."""
    path.parent.mkdir(parents=True, exist_ok=True)
    secrets_name = None
    if addresses.webhooks:
        secrets_name = path.name + ".secrets"
        _write_private(path.with_name(secrets_name), "".join(
            f"{WEBHOOK_VARIABLES[channel]}={url}\n"
            for channel, url in sorted(addresses.webhooks.items())))
    _write_private(path, HEADER + yaml.safe_dump(config_dict(addresses, secrets_name),
                                                 sort_keys=False))
    return load_file(path)
