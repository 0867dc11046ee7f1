"""Prometheus and node_exporter on the test host, from Debian's packages (scripts/prometheus-tools.sh
unpacks them on the controller; they are copied in), configured from the collection's own parts:
the scrape jobs and targets of the filters openclaw.vllm.prometheus_scrape_configs and
prometheus_targets (scrape_from=local: vLLM binds 127.0.0.1), and the shipped alert rules.
Both run as transient system units (nobody), scraping and evaluating every second."""
import json
import subprocess
import time

import yaml

from helpers.alert_rules import RULES
from helpers.paths import ROOT

from ansible_collections.openclaw.vllm.plugins.filter.prometheus import FilterModule

TOOLS = ROOT / ".cache" / "prometheus" / "usr" / "bin"
DIR = "/opt/openclaw-prometheus"
TEXTFILE_DIR = "/var/lib/openclaw-vllm/metrics"  # vllm_service_metrics_dir's default
PROMETHEUS = "http://127.0.0.1:9090"
UNITS = ("openclaw-test-prometheus", "openclaw-test-node-exporter")


def start(testhost, instance, hostvars):
    """Copy the binaries and the config in, start both, wait until Prometheus has scraped both jobs."""
    filters = FilterModule().filters()
    targets = filters["prometheus_targets"]([instance], {instance: hostvars}, scrape_from="local")
    config = {"global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
              "rule_files": [DIR + "/rules/" + RULES.name],
              "scrape_configs": filters["prometheus_scrape_configs"](DIR + "/file_sd")}
    assert testhost.run("mkdir -p %s/bin %s/rules %s/file_sd %s/data && chown nobody %s/data" % ((DIR,) * 5)).rc == 0
    for name in ("prometheus", "prometheus-node-exporter"):
        subprocess.run(["podman", "cp", str(TOOLS / name), "%s:%s/bin/%s" % (instance, DIR, name)], check=True)
    subprocess.run(["podman", "cp", str(RULES), "%s:%s/rules/%s" % (instance, DIR, RULES.name)], check=True)
    files = {"prometheus.yml": config}
    files.update(("file_sd/%s.yml" % job, groups) for job, groups in targets.items())
    for path, content in files.items():
        subprocess.run(["podman", "exec", "-i", instance, "sh", "-c", "cat > %s/%s" % (DIR, path)],
                       input=yaml.safe_dump(content).encode(), check=True)
    stop(testhost)
    commands = {
        UNITS[1]: "%s/bin/prometheus-node-exporter --web.listen-address=127.0.0.1:9100 --collector.disable-defaults "
                  "--collector.textfile --collector.textfile.directory=%s" % (DIR, TEXTFILE_DIR),
        UNITS[0]: "%s/bin/prometheus --config.file=%s/prometheus.yml --storage.tsdb.path=%s/data "
                  "--web.listen-address=127.0.0.1:9090" % (DIR, DIR, DIR),
    }
    for unit, command in commands.items():
        result = testhost.run("systemd-run --unit=%s --uid=nobody --gid=nogroup %s" % (unit, command))
        assert result.rc == 0, result.stderr
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        up = {sample["metric"]["job"] for sample in query(testhost, "up == 1")}
        if up >= {"openclaw-vllm", "node"}:
            return targets
        time.sleep(1)
    raise AssertionError("Prometheus did not scrape both jobs in 60 s: %s\n%s" % (
        api(testhost, "/api/v1/targets"), testhost.run("journalctl -u %s -n 30 --no-pager" % UNITS[0]).stdout))


def stop(testhost):
    for unit in UNITS:
        testhost.run("systemctl stop %s; systemctl reset-failed %s" % (unit, unit))


def api(testhost, path):
    result = testhost.run("curl -sS -m 10 %s" % (PROMETHEUS + path))
    try:
        return json.loads(result.stdout)["data"]
    except (ValueError, KeyError):
        return None


def query(testhost, promql):
    result = testhost.run("curl -sS -m 10 --data-urlencode %s %s/api/v1/query" % (
        "'query=%s'" % promql.replace("'", "'\\''"), PROMETHEUS))
    try:
        return json.loads(result.stdout)["data"]["result"]
    except (ValueError, KeyError):
        return []


def alerts(testhost, name):
    """The alerts of that name Prometheus has now (pending or firing), from its own API."""
    data = api(testhost, "/api/v1/alerts") or {"alerts": []}
    return [alert for alert in data["alerts"] if alert["labels"].get("alertname") == name]
