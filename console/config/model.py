"""The shape of the mcp-ops configuration file, as pydantic models.

Every model forbids unknown keys, so a misspelt key is an error that names itself rather
than a setting silently ignored. Secrets never live in the file: fields ending in ``_env``
name the environment variable that holds the value (see :mod:`console.config.secrets`).
Defaults follow the operations guide, so a production environment needs little more than
its addresses.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .urls import inline_password

ENV_NAME = re.compile(r"^[a-z][a-z0-9-]{0,30}$")
ENV_VAR = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
K8S_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")

Percent = Annotated[float, Field(ge=0, le=100)]
# at most a week: a timeout or an interval of 1e300 s would overflow the event loop's clock
Seconds = Annotated[float, Field(gt=0, le=7 * 24 * 3600)]


class Strict(BaseModel):
    # infinite or NaN figures are refused: `.inf` is valid YAML but no threshold or timeout
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def _env_var(value: str | None) -> str | None:
    if value is not None and not ENV_VAR.match(value):
        raise ValueError(f"{value!r} is not an environment variable name")
    return value


def _k8s_name(value: str | None) -> str | None:
    if value is not None and not K8S_NAME.match(value):
        raise ValueError(f"{value!r} is not a valid Kubernetes object name")
    return value


def _no_password_in(url: str) -> None:
    """Secrets never live in the file: a URL carrying a password is refused."""
    if where := inline_password(url):
        raise ValueError(f"holds a password (in its {where}); "
                         "put it in the variable named by password_env")


class KubernetesSettings(Strict):
    """Where the platform runs and what its workloads are called."""

    context: str | None = None  # kubeconfig context; None = current context
    kubeconfig: str | None = None  # path; None = $KUBECONFIG or ~/.kube/config
    namespace: str = "mcp-production"
    deployment: str = "mcp-server-production"
    container: str = "mcp-server"
    app_selector: str = "app=mcp-server"
    hpa: str = "mcp-server-hpa"
    database_workload: str = "postgres-production-primary"
    database_selector: str = "app=postgresql"
    cache_workload: str = "redis-production-master"
    cache_selector: str = "app=redis"
    database_secret: str = "postgres-credentials"
    certificate: str = "production-tls"
    normal_replicas: int = Field(6, ge=1, le=500)
    max_replicas: int = Field(50, ge=1, le=1000)
    velero_namespace: str = "velero"
    security_namespace: str = "security"
    falco_workload: str = "falco"
    monitoring_namespace: str = "monitoring"
    prometheus_workload: str = "prometheus-server"
    backup_job_prefix: str = "postgres-backup-"
    request_timeout: Seconds = 10.0
    # a run's lease on the environment, left by a run that died, is free after this long
    lease_seconds: int = Field(30, ge=5, le=3600)

    _names = field_validator(
        "namespace", "deployment", "container", "hpa", "database_workload",
        "cache_workload", "database_secret", "certificate", "velero_namespace",
        "security_namespace", "falco_workload", "monitoring_namespace",
        "prometheus_workload",
    )(_k8s_name)

    @model_validator(mode="after")
    def _replicas(self) -> KubernetesSettings:
        if self.normal_replicas > self.max_replicas:
            raise ValueError("normal_replicas is larger than max_replicas")
        return self


class PostgresSettings(Strict):
    """The primary database. The password comes from ``password_env``, never the file."""

    dsn: str = Field(..., description="postgresql://user@host:port/database, no password")
    password_env: str | None = None
    database: str = "pratiko_mcp_production"
    replica_dsns: list[str] = Field(default_factory=list)
    # how the console reaches db-pitr's recovery instance: once the application is switched
    # to it, the dashboard and the check watch this DSN (same password_env) instead of dsn
    recovery_dsn: str | None = None
    statement_timeout_ms: int = Field(2000, ge=100, le=600_000)

    _pw = field_validator("password_env")(_env_var)

    @field_validator("dsn", "replica_dsns", "recovery_dsn")
    @classmethod
    def _no_inline_password(cls, value):
        for dsn in [value] if isinstance(value, str) else value or []:
            if not dsn.startswith(("postgresql://", "postgres://")):
                raise ValueError(f"{dsn!r} is not a postgresql:// URL")
            _no_password_in(dsn)
        return value


class RedisSettings(Strict):
    url: str = "redis://127.0.0.1:6379/0"
    password_env: str | None = None

    _pw = field_validator("password_env")(_env_var)

    @field_validator("url")
    @classmethod
    def _scheme(cls, value: str) -> str:
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(f"{value!r} is not a redis://, rediss:// or unix:// URL")
        _no_password_in(value)
        return value


class ServiceSettings(Strict):
    """The MCP server's HTTP endpoints and where its metrics come from."""

    base_url: str
    health_path: str = "/health"
    database_health_path: str = "/health/database"
    dependencies_health_path: str = "/health/dependencies"
    metrics_path: str = "/metrics"
    prometheus_url: str | None = None  # PromQL API; None = scrape metrics_path directly
    prometheus_job: str = "mcp-server-production"
    # where the dashboard's and the check's request figures come from: "auto" = PromQL over
    # [5m] when prometheus_url is set, else a scrape of metrics_path; "scrape" = always the
    # scrape (Prometheus then serves only the long-range queries, e.g. the weekly review)
    request_figures: Literal["auto", "scrape"] = "auto"
    tls_host: str | None = None  # host:port whose certificate is checked
    # the name asked for (SNI) and checked against the certificate when tls_host is an
    # address, not the service's name; None = the host part of tls_host
    tls_server_name: str | None = None
    tls_ca_file: str | None = None  # a private CA bundle to verify with; None = system trust
    # Alertmanager API; its firing alerts are shown beside the console's own findings
    alertmanager_url: str | None = None
    alertmanager_filter: list[str] = []  # matchers, e.g. namespace="mcp-production"
    timeout: Seconds = 3.0
    # the public service name users reach (through DNS), e.g. https://mcp.pratiko.ai: the
    # DR failover verifies through it; None = only base_url (this region's own address)
    public_url: str | None = None

    @field_validator("base_url", "prometheus_url", "alertmanager_url", "public_url")
    @classmethod
    def _http(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError(f"{value!r} is not an http:// or https:// URL")
        return value.rstrip("/") if value else value

    @field_validator("health_path", "database_health_path", "dependencies_health_path",
                     "metrics_path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError(f"{value!r} must start with /")
        return value


class GrafanaSettings(Strict):
    overview: str | None = None
    database: str | None = None
    infrastructure: str | None = None


class AwsSettings(Strict):
    region: str = "eu-west-1"
    profile: str | None = None
    endpoint_url: str | None = None  # only for the sandbox's moto server
    s3_backup_bucket: str = "pratiko-backups"
    s3_backup_prefix: str = "production/postgres/"
    route53_zone_id: str | None = None
    route53_record: str | None = None
    route53_dr_target: str | None = None
    route53_staging_target: str | None = None
    rds_primary_id: str | None = None
    rds_dr_replica_id: str | None = None
    ec2_environment_tag: str = "production"
    access_key_id_env: str | None = None  # normally the standard credential chain is used
    secret_access_key_env: str | None = None
    # each API call of a wizard (a describe, a list page, a change); an object's body is
    # bounded per read instead (60 s), not in total: a dump streams for minutes
    request_timeout: Seconds = 20.0

    _vars = field_validator("access_key_id_env", "secret_access_key_env")(_env_var)


class HelmSettings(Strict):
    postgres_release: str = "postgres-production"
    postgres_chart: str = "bitnami/postgresql-ha"
    # the value holding the PostgreSQL replica count: postgresql-ha's, not the runbook's
    # readReplicas.replicaCount (not a key of that chart; --reuse-values ignores it silently)
    read_replicas_key: str = Field("postgresql.replicaCount", pattern=r"^[A-Za-z0-9_.\-\[\]]+$")
    # the chart's StatefulSet, checked after the upgrade; None: bitnami's labels
    # app.kubernetes.io/instance=<postgres_release>,app.kubernetes.io/component=postgresql
    read_replicas_selector: str | None = None
    redis_release: str = "redis-production"
    redis_chart: str = "bitnami/redis"


class NotificationSettings(Strict):
    slack_webhook_env: str | None = "SECURITY_SLACK_WEBHOOK"
    status_page_webhook_env: str | None = "STATUS_PAGE_WEBHOOK"

    _vars = field_validator("slack_webhook_env", "status_page_webhook_env")(_env_var)


class MaintenanceSettings(Strict):
    log_path: str = "docs/maintenance-log.md"
    # the maintenance page (the runbook's k8s/maintenance-mode.yaml), applied by the
    # service-outage wizard to divert traffic; None = that choice is not offered
    mode_manifest: str | None = None
    window: str = "2nd Sunday 02:00-06:00 America/New_York"
    scale_up_replicas: int = Field(8, ge=1, le=500)


class AccessReviewSettings(Strict):
    """The monthly access review's rules."""

    # subjects that may hold cluster-admin, as KIND:NAME (ServiceAccount:NS:NAME)
    cluster_admin_allowed: list[str] = ["Group:system:masters"]
    flag_wildcard_verbs: bool = True  # a role granting verb "*" to a service account
    secret_unused_days: int = Field(90, ge=1, le=3650)  # unreferenced and older: a finding


class DisasterRecoverySettings(Strict):
    environment: str | None = None  # the name of the environment that takes over
    cross_region_backup: str = "latest-cross-region-backup"


class Band(Strict):
    """A warning and a critical level for one figure."""

    warning: float
    critical: float


class Thresholds(Strict):
    """DESIGN.md's thresholds; any of them can be overridden per environment."""

    health_latency_ms: Band = Band(warning=500, critical=10_000)
    error_rate_pct: Band = Band(warning=1, critical=5)
    p95_ms: Band = Band(warning=500, critical=2000)
    cpu_pct: Band = Band(warning=70, critical=90)
    memory_pct: Band = Band(warning=80, critical=90)
    disk_pct: Band = Band(warning=85, critical=95)
    db_connections_pct: Band = Band(warning=80, critical=95)
    slow_query_seconds: Seconds = 1.0
    # an idle session at least this old is a pool's, not a request's (connection-pool wizards)
    idle_session_seconds: Seconds = 30.0
    replication_lag_seconds: Band = Band(warning=10, critical=60)
    redis_memory_pct: Band = Band(warning=80, critical=90)
    redis_hit_rate_pct: Band = Band(warning=95, critical=80)  # lower is worse
    backup_max_age_hours: Seconds = 26
    certificate_days: Band = Band(warning=30, critical=7)  # fewer days is worse
    # daily security checks, over the last 24 h of logs (every application pod; Falco's)
    failed_auth_24h: Band = Band(warning=1000, critical=5000)
    failed_auth_per_address_24h: Band = Band(warning=200, critical=1000)
    falco_warnings_24h: Band = Band(warning=500, critical=2000)  # priority Warning
    falco_severe_24h: Band = Band(warning=1, critical=5)  # Error, Critical, Alert, Emergency


class Environment(Strict):
    """One platform the console can look at and act on."""

    description: str = ""
    read_only: bool = False
    protected: bool = False  # destructive steps need the environment's name typed
    kubernetes: KubernetesSettings = KubernetesSettings()
    postgres: PostgresSettings
    redis: RedisSettings = RedisSettings()
    service: ServiceSettings
    grafana: GrafanaSettings = GrafanaSettings()
    aws: AwsSettings = AwsSettings()
    helm: HelmSettings = HelmSettings()
    notifications: NotificationSettings = NotificationSettings()
    maintenance: MaintenanceSettings = MaintenanceSettings()
    disaster_recovery: DisasterRecoverySettings = DisasterRecoverySettings()
    access_review: AccessReviewSettings = AccessReviewSettings()
    thresholds: Thresholds = Thresholds()


class SessionLogSettings(Strict):
    directory: str | None = None  # None = $XDG_STATE_HOME/mcp-ops/sessions
    # the environment's health (status and reasons per component) recorded around every
    # step, so an incident review sees the platform as the operator saw it
    health_at_steps: bool = True
    s3_archive_bucket: str | None = None
    s3_archive_prefix: str = "mcp-ops/sessions/"
    # off-machine anchor: while a session runs, its log is uploaded to the archive bucket at
    # every step boundary (a new object version each time), so `mcp-ops log verify --remote`
    # can catch a log rewritten whole on this machine. Needs s3_archive_bucket.
    s3_anchor_at_steps: bool = True
    # S3 Object Lock retention given to every uploaded version (the bucket must have Object
    # Lock enabled); None = no retention of our own (the bucket's default applies, if any)
    s3_object_lock_mode: Literal["GOVERNANCE", "COMPLIANCE"] | None = None
    s3_object_lock_days: int = Field(30, ge=1, le=36500)


class UiSettings(Strict):
    refresh_seconds: Seconds = 2.0
    source_timeout_seconds: Seconds = 3.0
    max_backoff_seconds: Seconds = 30.0
    output_line_cap: int = Field(5000, ge=100, le=1_000_000)


class Config(Strict):
    """The whole file."""

    version: int = Field(1, ge=1, le=1)
    default_environment: str | None = None
    environments: dict[str, Environment]
    # a file of NAME=value lines (mode 0600) for the variables the *_env keys name; a
    # variable already set in the environment wins. Relative to the config file's folder.
    secrets_file: str | None = None
    session_log: SessionLogSettings = SessionLogSettings()
    ui: UiSettings = UiSettings()

    @field_validator("environments")
    @classmethod
    def _names(cls, value: dict[str, Environment]) -> dict[str, Environment]:
        if not value:
            raise ValueError("at least one environment is needed")
        for name in value:
            if not ENV_NAME.match(name):
                raise ValueError(
                    f"environment name {name!r}: use lower-case letters, digits and '-'"
                )
        return value

    @model_validator(mode="after")
    def _references(self) -> Config:
        if self.default_environment and self.default_environment not in self.environments:
            raise ValueError(
                f"default_environment {self.default_environment!r} is not one of "
                f"{', '.join(self.environments)}"
            )
        for name, env in self.environments.items():
            target = env.disaster_recovery.environment
            if target and target not in self.environments:
                raise ValueError(
                    f"environments.{name}.disaster_recovery.environment {target!r} is not "
                    "a configured environment"
                )
        return self

    def environment(self, name: str | None = None) -> tuple[str, Environment]:
        """The named environment, else the default one, else the first one."""
        name = name or self.default_environment or next(iter(self.environments))
        try:
            return name, self.environments[name]
        except KeyError:
            raise KeyError(
                f"no environment {name!r}; configured: {', '.join(self.environments)}"
            ) from None
