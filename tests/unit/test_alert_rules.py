"""The alert rules the collection ships: valid for Prometheus (promtool check rules), each alert
proven to fire and to stay quiet (promtool test rules, tests/prometheus/), and the port-held
alert in the words of `openclaw-vllm status --verbose`'s HINT."""
import yaml

from helpers.alert_rules import RULE_TESTS, RULES, alert_rules
from helpers.promtool import promtool

from ansible_collections.openclaw.vllm.plugins.module_utils.host.events import quote
from ansible_collections.openclaw.vllm.plugins.module_utils.host.hints import GPU_HINT, HINT, SIBLING_HINT
from ansible_collections.openclaw.vllm.plugins.module_utils.host.metrics import HELP


def test_rules_are_valid_and_their_tests_pass():
    assert "SUCCESS: %d rules found" % len(alert_rules()) in promtool("check", "rules", str(RULES))
    assert "SUCCESS" in promtool("test", "rules", RULE_TESTS.name, cwd=str(RULE_TESTS.parent))


def test_every_alert_is_shown_firing_and_quiet():
    """Firing: an evaluation expects it. Quiet: an evaluation expects nothing, or an input series
    of a host the expected alerts do not name (promtool compares the whole list)."""
    cases = yaml.safe_load(RULE_TESTS.read_text())["tests"]
    fires, quiet = set(), set()
    for case in cases:
        hosts = {series["series"].split('host="')[1].split('"')[0] for series in case["input_series"]
                 if 'host="' in series["series"]}
        for evaluation in case["alert_rule_test"]:
            expected = evaluation["exp_alerts"]
            if expected:
                fires.add(evaluation["alertname"])
            named = {alert["exp_labels"].get("host") for alert in expected}
            if not expected or hosts - named - {None}:
                quiet.add(evaluation["alertname"])
    alerts = set(alert_rules())
    assert sorted(alerts - fires) == [] and sorted(alerts - quiet) == []


def summaries(alertname):
    return {alert["exp_annotations"]["summary"]
            for case in yaml.safe_load(RULE_TESTS.read_text())["tests"] for evaluation in case["alert_rule_test"]
            if evaluation["alertname"] == alertname for alert in evaluation["exp_alerts"]}


def test_the_port_held_alert_says_what_status_hints():
    """The same sentence as the status HINT (without its "HINT: "), prefixed with the host."""
    expected = summaries("OpenClawVLLMPortHeldUnknown")
    unknown = HINT.format(port=8001, pid=4242, cmd=quote("nginx: master process"), unit="openclaw-vllm.service")
    sibling = SIBLING_HINT.format(port=8001, sibling=quote("openclaw-vllm-b.service"), pid=5151,
                                  cmd=quote("vllm serve /models/b"), unit="openclaw-vllm.service")
    assert expected == {"gpu-1: " + hint[len("HINT: "):] for hint in (unknown, sibling)}


def test_the_gpu_alert_says_what_status_hints_when_a_holder_is_known():
    hint = GPU_HINT.format(gpu=1, free=11004, need=69326, pid=4242, cmd=quote("python3 train.py"), mib=70000,
                           unit="openclaw-vllm.service")
    assert "gpu-1: " + hint[len("HINT: "):] in summaries("OpenClawVLLMGpuGateRefusing")


def test_rules_read_only_metrics_that_exist():
    """openclaw_vllm_* names are the ones the guard and the gate write (vllm:* ones are checked
    against a real vLLM's /metrics in the default scenario)."""
    import re

    ours = {name for rule in alert_rules().values() for name in re.findall(r"openclaw_vllm_[a-z_]+", rule["expr"])}
    assert ours and sorted(ours - set(HELP)) == []
