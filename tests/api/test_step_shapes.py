"""What a step records, in upstream's (v2.12) shapes the Ava SDK hands to apps: ``Step.config`` is the node's or
trigger's configuration itself (``{url, method, headers}``), not wrapped in ``{"config": …}``."""

from __future__ import annotations

from hourglass_cli.api.engine import Engine, RunContext, StepResult, from_value, to_value, trigger_step
from hourglass_cli.api.runners import NodeServices
from hourglass_cli.wire.gen import avs_pb2 as pb


def test_a_node_steps_config_is_the_nodes_configuration() -> None:
    node = pb.TaskNode(id="rest01", name="fetch", type=pb.NODE_TYPE_REST_API, rest_api=pb.RestAPINode(
        config=pb.RestAPINode.Config(url="http://127.0.0.1:9/x?n={{trigger.data.n}}", method="GET",
                                     headers={"X-Api-Key": "{{apContext.configVars.token}}"})))
    engine = Engine(lambda n, ctx: StepResult(output={"ok": True}), workers=1, step_timeout=5)
    try:
        step = engine.run_node(node, RunContext({}, "0xowner", "0xrunner", "task", "exec", NodeServices()))
    finally:
        engine.close()
    assert step.success
    assert from_value(step.config) == {"url": "http://127.0.0.1:9/x?n={{trigger.data.n}}", "method": "GET",
                                       "headers": {"X-Api-Key": "{{apContext.configVars.token}}"}}
    assert list(step.inputs) == ["trigger", "apContext"]


def test_a_loop_steps_config_keeps_its_runner_beside_the_configuration() -> None:
    node = pb.TaskNode(id="loop01", name="each", type=pb.NODE_TYPE_LOOP, loop=pb.LoopNode(
        config=pb.LoopNode.Config(input_variable="{{items.data}}", iter_val="value", iter_key="index"),
        rest_api=pb.RestAPINode(config=pb.RestAPINode.Config(url="http://127.0.0.1:9/{{value}}", method="GET"))))
    engine = Engine(lambda n, ctx: StepResult(output=[]), workers=1, step_timeout=5)
    try:
        step = engine.run_node(node, RunContext({}, "0xowner", "0xrunner", "task", "exec", NodeServices()))
    finally:
        engine.close()
    config = from_value(step.config)
    assert config["inputVariable"] == "{{items.data}}" and config["iterVal"] == "value"
    assert config["restApi"] == {"config": {"url": "http://127.0.0.1:9/{{value}}", "method": "GET"}}
    assert "config" not in config


def test_a_trigger_steps_config_is_the_triggers_configuration() -> None:
    trigger = pb.TaskTrigger(id="t0", name="trigger", type=pb.TRIGGER_TYPE_MANUAL, manual=pb.ManualTrigger(
        config=pb.ManualTrigger.Config(data=to_value({"n": 1}), lang=pb.LANG_JSON)))
    step = trigger_step(trigger, {"n": 7}, 1)
    assert step.type == "TRIGGER_TYPE_MANUAL"
    assert from_value(step.config) == {"data": {"n": 1}, "lang": "LANG_JSON"}
    assert from_value(step.manual_trigger.data) == {"n": 7}
    cron = pb.TaskTrigger(id="t1", name="every", type=pb.TRIGGER_TYPE_CRON, cron=pb.CronTrigger(
        config=pb.CronTrigger.Config(schedules=["*/5 * * * *"])))
    assert from_value(trigger_step(cron, {}, 1).config) == {"schedules": ["*/5 * * * *"]}
