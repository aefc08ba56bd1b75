"""The catalogue: the fixed 22 ids, one source of each wizard's metadata, planned entries
that refuse, and read-only enforcement over every non-read step of every built wizard,
proven on real sockets."""

from __future__ import annotations

import importlib
import pkgutil

import pytest
from wizard_support import Trap, load_config, trap_kubeconfig, write_config

import actions
from actions.catalogue import CATALOGUE_IDS, PLANNED, _built, catalogue, get, problems
from console.commands.wizards import rows
from console.execution.confirmation import CommandLineConfirmer
from console.execution.executor import REFUSED
from console.execution.log_store import read_records
from console.execution.model import Plan, Risk, Step, Wizard
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


def built_modules() -> dict[str, Wizard]:
    """Every ``WIZARD`` a module under ``actions`` exposes, found without the catalogue."""
    found = {}
    for info in pkgutil.walk_packages(actions.__path__, "actions."):
        if info.name.startswith("actions.examples"):
            continue  # the README's example is not a runbook procedure
        wizard = getattr(importlib.import_module(info.name), "WIZARD", None)
        if isinstance(wizard, Wizard):
            found[wizard.id] = wizard
    return found


def test_built_wizards_are_the_only_source_of_their_metadata():
    """What the catalogue (and `mcp-ops wizards`, the picker, the palette) shows for a built
    wizard is its module's WIZARD: same id, title, section and risk (its steps' highest)."""
    built = built_modules()
    assert len(built) >= 5 and set(built) == set(_built())  # none left out of the catalogue
    shown = {row[0]: row for row in rows()}
    for wizard_id, wizard in built.items():
        entry = get(wizard_id)
        assert entry is wizard, f"{wizard_id}: the catalogue serves another object"
        assert wizard.built and wizard.planned_risk is None
        assert wizard.highest_risk == max(step.risk for step in wizard.steps)
        assert shown[wizard_id] == (wizard.id, wizard.title, wizard.section,
                                    wizard.highest_risk.label, ""), wizard_id
        assert wizard_id not in PLANNED, f"{wizard_id} is built: delete its planned entry"


def test_planned_entries_exist_only_for_ids_not_built_and_have_a_risk():
    built = set(_built())
    assert set(PLANNED) == set(CATALOGUE_IDS) - built
    assert len(CATALOGUE_IDS) == len(set(CATALOGUE_IDS)) == len(built) + len(PLANNED)
    for wizard_id, entry in PLANNED.items():
        assert isinstance(entry.risk, Risk), f"{wizard_id}: planned risk missing"
        assert entry.title and entry.section and entry.when, wizard_id
        wizard = get(wizard_id)
        assert not wizard.built and wizard.highest_risk == entry.risk
        assert (wizard.title, wizard.section, wizard.when) == (entry.title, entry.section,
                                                                entry.when)
    assert problems(_built()) == []


def test_the_catalogue_refuses_sources_that_disagree():
    async def run(ctx):
        yield "x"

    step = Step("s", "S", "why", Risk.DESTRUCTIVE, lambda ctx: Plan("s"), run)
    built = {**_built(), "not-in-the-guide": Wizard("not-in-the-guide", "X", "§", "w",
                                                    steps=(step,))}
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(PLANNED, "scaling", PLANNED.get("scaling") or _planned_scaling())
        found = problems(built)
    assert any("both built and planned" in p and "scaling" in p for p in found)
    assert any("not in CATALOGUE_IDS" in p and "not-in-the-guide" in p for p in found)
    without = {k: v for k, v in _built().items() if k != "scaling"}
    assert any("neither built nor planned" in p and "scaling" in p for p in problems(without))


def _planned_scaling():
    from actions.catalogue import Planned

    return Planned("Scale", "Scaling Operations", "when", Risk.CHANGE)


def test_every_id_is_built_and_nothing_is_planned():
    assert PLANNED == {} and all(w.built for w in catalogue())


def test_planned_entries_refuse_with_their_section(log_review_planned):
    wizard = get(log_review_planned)
    assert not wizard.built and wizard.highest_risk == Risk.READ
    message = wizard.not_built_message()
    assert "not built yet" in message and "Daily Operations › Log Review" in message


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
