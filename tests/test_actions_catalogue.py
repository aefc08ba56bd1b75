"""The catalogue: the fixed 22 ids, planned entries that refuse, and read-only enforcement
over every non-read step of every built wizard, proven on real sockets."""

from __future__ import annotations

import pytest
from wizard_support import Trap, load_config, trap_kubeconfig, write_config

from actions.catalogue import CATALOGUE_IDS, catalogue, get
from console.execution.confirmation import CommandLineConfirmer
from console.execution.executor import REFUSED
from console.execution.log_store import read_records
from console.execution.model import Risk
from console.execution.session import WizardRun

IDS = ("morning-health-check log-review backup-verification db-pitr velero-restore dr-failover "
       "scaling maintenance-window performance-review service-outage security-incident "
       "alert-service-down alert-high-error-rate alert-db-connections alert-high-cpu-memory "
       "alert-slow-response troubleshoot-memory troubleshoot-connection-pool troubleshoot-redis "
       "security-checks certificate-check access-review").split()


def test_the_catalogue_has_the_fixed_ids_in_order():
    assert list(CATALOGUE_IDS) == IDS
    assert [w.id for w in catalogue()] == IDS


def test_every_entry_has_a_title_section_and_risk():
    for wizard in catalogue():
        assert wizard.title and wizard.section and wizard.when
        assert isinstance(wizard.highest_risk, Risk)
    assert get("scaling").built and get("scaling").highest_risk == Risk.CHANGE
    assert get("morning-health-check").built
    assert get("morning-health-check").highest_risk == Risk.READ


def test_planned_entries_refuse_with_their_section():
    wizard = get("dr-failover")
    assert not wizard.built and wizard.highest_risk == Risk.DESTRUCTIVE
    message = wizard.not_built_message()
    assert "not built yet" in message and "Disaster Recovery Scenarios" in message


def test_step_ids_are_unique_and_inputs_named_once():
    for wizard in catalogue():
        ids = [s.id for s in wizard.steps]
        assert len(ids) == len(set(ids)), wizard.id
        names = [i.name for i in wizard.inputs()]
        assert len(names) == len(set(names)), wizard.id


@pytest.mark.timeout(60)
async def test_every_non_read_step_is_refused_in_read_only_before_any_client_call(tmp_path):
    """Kubernetes, PostgreSQL and Redis all point at listeners that count connections: a
    refused step must not open a single one. A read step does reach them (the control)."""
    async with Trap() as kube, Trap() as pg, Trap() as redis:
        kubeconfig = trap_kubeconfig(tmp_path / "kubeconfig", kube.port)
        config = load_config(write_config(
            tmp_path, kubeconfig=str(kubeconfig), context="trap",
            pg_dsn=f"postgresql://postgres@127.0.0.1:{pg.port}/test",
            redis_url=f"redis://127.0.0.1:{redis.port}/0"))
        tried = 0
        for wizard in catalogue():
            run = WizardRun(config=config, env_name="sandbox", wizard=wizard, read_only=True,
                            confirmer=CommandLineConfirmer("sandbox"))
            run.start()
            for index, step in enumerate(wizard.steps):
                if step.risk == Risk.READ:
                    continue
                outcome = await run.executor.run_step(index, step)
                tried += 1
                assert outcome.status == REFUSED, (wizard.id, step.id, outcome)
                assert kube.connections == pg.connections == redis.connections == 0, \
                    f"{wizard.id}/{step.id} reached a client before being refused"
            await run.finish("refused")
            refusals = [r for r in read_records(run.log.path) if r["event"] == "refusal"]
            assert len(refusals) == sum(1 for s in wizard.steps if s.risk > Risk.READ)
            assert all("read-only" in r["data"]["reason"] for r in refusals)
        print(f"read-only: tried {tried} non-read steps across "
              f"{sum(1 for w in catalogue() if w.built)} built wizards; all refused, "
              "0 connections")
        assert tried >= 3

        # control: a read step of the same kind of run does reach the (trap) cluster
        run = WizardRun(config=config, env_name="sandbox", wizard=get("scaling"),
                        read_only=True, confirmer=CommandLineConfirmer(None))
        run.start()
        await run.executor.run_step(0, get("scaling").steps[0])
        await run.finish("failed")
        assert kube.connections > 0
