"""Resume through WizardRun: recorded inputs come back, secret inputs never were recorded
and must be given again, completed steps are not repeated, a tampered log is refused."""

from __future__ import annotations

import sys

import pytest
from wizard_support import load_config, write_config

from console.execution.confirmation import ConfirmationAnswer
from console.execution.inputs import Input, IntInput
from console.execution.log_store import read_records, verify
from console.execution.model import Plan, Risk, Step, Wizard
from console.execution.session import ResumeError, WizardRun


def echo_step(step_id: str, inputs=()) -> Step:
    async def run(ctx):
        process = ctx.mutations.process([sys.executable, "-c", "print('ran " + step_id + "')"])
        async for line in process:
            yield line.text

    return Step(step_id, step_id, "why", Risk.CHANGE, lambda ctx: Plan(step_id), run,
                inputs=inputs)


WIZARD = Wizard("scaling", "T", "S", "W", steps=(
    echo_step("one", (IntInput("count", "Count", default=1),
                      Input("token", "API token", secret=True))),
    echo_step("two"),
))


async def yes(request):
    return ConfirmationAnswer(True)


async def test_resume_reuses_recorded_inputs_and_asks_for_secrets_again(tmp_path):
    config = load_config(write_config(tmp_path))
    run = WizardRun(config=config, env_name="sandbox", wizard=WIZARD, read_only=False,
                    confirmer=yes)
    run.start()
    assert await run.resolve_inputs({"count": "4", "token": "tok-very-secret-1"}) == []
    assert (await run.run_step(0)).status == "ok"
    run.log.close()  # the process "dies" here: no session_end
    await run.clients.close()
    path = run.log.path
    assert "tok-very-secret-1" not in path.read_text()

    again, problems = await WizardRun.resume(path, config=config, wizard=WIZARD,
                                             env_name=None, answers={}, confirmer=yes)
    assert [p.name for p in problems] == ["token"]  # the secret must be given again
    await again.finish("aborted")

    final, problems = await WizardRun.resume(path, config=config, wizard=WIZARD, env_name=None,
                                             answers={"token": "tok-very-secret-2"},
                                             confirmer=yes)
    assert problems == [] and final.ctx.values["count"] == 4
    assert final.next_index() == 1
    assert (await final.run_step(1)).status == "ok"
    await final.finish("completed")
    result = verify(path)
    assert result.ok and result.ended
    starts = [r["data"]["id"] for r in result.records if r["event"] == "step_start"]
    assert starts == ["one", "two"]
    text = path.read_text()
    assert "tok-very-secret" not in text
    with pytest.raises(ResumeError, match="finished"):
        await WizardRun.resume(path, config=config, wizard=WIZARD, env_name=None, answers={},
                               confirmer=yes)


async def test_a_tampered_log_is_not_resumed(tmp_path):
    config = load_config(write_config(tmp_path))
    run = WizardRun(config=config, env_name="sandbox", wizard=WIZARD, read_only=False,
                    confirmer=yes)
    run.start()
    await run.resolve_inputs({"token": "x1234"})
    run.log.close()
    path = run.log.path
    path.write_text(path.read_text().replace('"count"', '"cOunt"'))
    with pytest.raises(ResumeError, match="does not verify"):
        await WizardRun.resume(path, config=config, wizard=WIZARD, env_name=None, answers={},
                               confirmer=yes)
    assert read_records(path)
