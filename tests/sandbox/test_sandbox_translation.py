"""How commands typed into a sandbox pod become local commands, and the config a sandbox
writes. Pure functions, checked on the runbook's own command lines; the end-to-end runs
through kubectl are in ``test_sandbox_pods_and_aws.py``.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from console.config import load_file
from sandbox.aws import nightly_dump_times
from sandbox.db_exec import PodFiles, translate_postgres, translate_redis_cli
from sandbox.sandbox_config import Addresses, write_config


@pytest.fixture
def files(tmp_path) -> PodFiles:
    return PodFiles(tmp_path / "podfs")


def test_runbook_psql_keeps_its_sql_and_reaches_the_sandbox_database(files):
    argv = translate_postgres(["psql", "-c", "SELECT count(*) FROM pg_stat_activity;"],
                              database="pratiko_mcp_production_ab12", files=files)
    assert argv == ["psql", "--command=SELECT count(*) FROM pg_stat_activity;"]


def test_database_name_is_translated_in_every_spelling(files):
    db = "pratiko_mcp_production_ab12"
    for command in (["psql", "-d", "pratiko_mcp_production"],
                    ["psql", "--dbname=pratiko_mcp_production"],
                    ["psql", "-dpratiko_mcp_production"],
                    ["psql", "--dbname", "pratiko_mcp_production"]):
        assert translate_postgres(command, database=db, files=files) == ["psql", f"--dbname={db}"]
    assert translate_postgres(["pg_dump", "pratiko_mcp_production"], database=db,
                              files=files) == ["pg_dump", db]
    assert translate_postgres(["psql", "-d", "other_db"], database=db,
                              files=files) == ["psql", "--dbname=other_db"]


def test_connection_options_are_dropped_and_flag_groups_kept(files):
    argv = translate_postgres(["/usr/bin/psql", "-h", "localhost", "-p5433", "-U", "postgres",
                               "-tAc", "SELECT 1", "pratiko_mcp_production", "someone"],
                              database="real", files=files)
    assert argv == ["psql", "-tA", "--command=SELECT 1", "real"]


def test_pod_paths_land_in_the_sandbox_pod_filesystem(files, tmp_path):
    argv = translate_postgres(["pg_restore", "-d", "pratiko_mcp_production",
                               "/backup/latest-backup.sql"], database="real", files=files)
    assert argv == ["pg_restore", "--dbname=real",
                    str(tmp_path / "podfs" / "backup" / "latest-backup.sql")]
    dump = translate_postgres(["pg_dump", "-Fc", "-f", "/tmp/x.dump", "pratiko_mcp_production"],
                              database="real", files=files)
    assert dump == ["pg_dump", "--format=c", f"--file={tmp_path / 'podfs' / 'tmp' / 'x.dump'}",
                    "real"]
    assert (tmp_path / "podfs" / "tmp").is_dir()
    stdin = translate_postgres(["psql", "-f", "-"], database="real", files=files)
    assert stdin == ["psql", "--file=-"]


def test_other_programs_are_not_ours(files):
    with pytest.raises(ValueError):
        translate_postgres(["bash", "-c", "psql"], database="real", files=files)


def test_redis_cli_is_pointed_at_the_sandbox_redis():
    argv = translate_redis_cli(["redis-cli", "-h", "redis-production-master", "-p", "6379",
                                "info", "stats"], host="127.0.0.1", port=41234)
    assert argv == ["redis-cli", "-h", "127.0.0.1", "-p", "41234", "info", "stats"]


def test_nightly_dumps_are_a_week_of_nights_ending_before_now():
    now = datetime(2026, 11, 29, 1, 30, tzinfo=UTC)  # before tonight's 02:04
    times = nightly_dump_times(now)
    assert len(times) == 7
    assert times[-1] == datetime(2026, 11, 28, 2, 4, tzinfo=UTC)
    assert times[0] == datetime(2026, 11, 22, 2, 4, tzinfo=UTC)
    later = nightly_dump_times(datetime(2026, 11, 29, 9, 0, tzinfo=UTC))
    assert later[-1] == datetime(2026, 11, 29, 2, 4, tzinfo=UTC)


def test_written_config_loads_with_both_environments_pointing_at_the_sandbox(tmp_path):
    addresses = Addresses(
        kubeconfig=str(tmp_path / "kubeconfig"),
        postgres_dsn="postgresql://postgres@127.0.0.1:5432/pratiko_mcp_production_ab12",
        redis_url="redis://127.0.0.1:40000/0", service_url="http://127.0.0.1:40001",
        dr_service_url="http://127.0.0.1:40002", aws_endpoint="http://127.0.0.1:40003",
        route53_zone_id="ZSANDBOX1", scenario="crashloop")
    path = tmp_path / "sandbox.yaml"
    config = write_config(path, addresses)
    assert path.stat().st_mode & 0o777 == 0o600
    assert config == load_file(path)
    assert list(config.environments) == ["sandbox", "sandbox-dr"]
    prod, dr = config.environments["sandbox"], config.environments["sandbox-dr"]
    assert (prod.kubernetes.context, dr.kubernetes.context) == ("sandbox", "sandbox-dr")
    assert prod.kubernetes.kubeconfig == dr.kubernetes.kubeconfig == addresses.kubeconfig
    assert prod.service.base_url == "http://127.0.0.1:40001"
    assert dr.service.base_url == "http://127.0.0.1:40002"
    assert prod.aws.endpoint_url == dr.aws.endpoint_url == "http://127.0.0.1:40003"
    assert prod.aws.route53_zone_id == "ZSANDBOX1"
    assert (prod.aws.region, dr.aws.region) == ("eu-west-1", "eu-central-1")
    assert prod.aws.rds_dr_replica_id == "pratiko-mcp-dr-replica"
    assert prod.disaster_recovery.environment == "sandbox-dr"
    assert "crashloop" in prod.description
