"""Metrics on the test host: the guard's textfile for this start, and a real vLLM's /metrics
exporting every vLLM metric the collection's alert rules read (names move between versions)."""
import re

from testhost import PORT, SERVICE_USER, UNIT

from helpers.alert_rules import vllm_metric_names
from helpers.promtool import promtool, samples

METRICS = "/var/lib/openclaw-vllm/metrics/openclaw-vllm-%d.prom" % PORT  # vllm_service_metrics_dir's default


def test_vllm_exports_every_metric_the_alert_rules_read(testhost):
    testhost.chat("Count to three.")  # the histograms have samples, not only their buckets' zeros
    status, text = testhost.http("/metrics", key=False)
    assert status == 200
    exported = {line.split("{")[0].split(" ")[0] for line in text.splitlines() if line.startswith("vllm:")}
    assert sorted(set(vllm_metric_names()) - exported) == [], "rules name metrics this vLLM does not export"


def test_this_start_is_in_the_metrics_file_as_the_guard_decided_it(testhost):
    stat = testhost.run("stat -c '%%a %%U' %s" % METRICS).stdout.split()
    assert stat == ["644", SERVICE_USER], "node_exporter (another user) reads it"
    text = testhost.run("cat %s" % METRICS).stdout
    promtool("check", "metrics", stdin=text.encode())
    values = samples(text)
    labels = 'port="%d",unit="%s"' % (PORT, UNIT)
    assert values['openclaw_vllm_guard_refusing{%s}' % labels] == 0
    assert values['openclaw_vllm_guard_last_decision_info{%s,decision="ok"}' % labels] == 1
    assert values['openclaw_vllm_guard_decisions_total{%s,decision="ok"}' % labels] >= 1
    # What it reports as deployed is what the unit's ExecStart runs.
    exec_start = testhost.unit_property("ExecStart")
    build = re.search(r"path=(\S+)/bin/vllm ", exec_start).group(1).rsplit("/", 1)[1]
    deployed = [key for key in values if key.startswith("openclaw_vllm_deployed_info{")]
    assert len(deployed) == 1 and 'build="%s"' % build in deployed[0], (deployed, exec_start)
