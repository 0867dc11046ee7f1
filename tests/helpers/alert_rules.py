"""The collection's Prometheus alert rules and their promtool tests, as data."""
import re

import yaml

from helpers.paths import ROOT

RULES = ROOT / "collections/ansible_collections/openclaw/vllm/extensions/prometheus/openclaw-vllm.rules.yml"
RULE_TESTS = ROOT / "tests/prometheus/openclaw-vllm.rules.test.yml"


def alert_rules():
    """{alert name: rule} of every group."""
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return {rule["alert"]: rule for group in groups for rule in group["rules"] if "alert" in rule}


def vllm_metric_names():
    """The vLLM metric names (``vllm:...``, histogram series as written) the rules' expressions read."""
    return sorted({name for rule in alert_rules().values() for name in re.findall(r"vllm:[a-z_:]+", rule["expr"])})
