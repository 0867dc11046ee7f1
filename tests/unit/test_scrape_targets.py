"""The fleet's scrape targets from the inventory (filters openclaw.vllm.prometheus_targets and
prometheus_scrape_configs, as Ansible loads them), and a Prometheus config made of them that
promtool accepts."""
import pytest
import yaml

from helpers.alert_rules import RULES
from helpers.promtool import promtool

from ansible.errors import AnsibleFilterError
from ansible_collections.openclaw.vllm.plugins.filter.prometheus import FilterModule

FILTERS = FilterModule().filters()


def test_one_target_per_endpoint_and_per_node_exporter_with_the_labels_the_rules_read():
    hostvars = {
        "gpu-1": {"ansible_host": "10.0.0.11", "vllm_service_host": "0.0.0.0"},
        "gpu-2": {"vllm_service_host": "10.0.0.12", "vllm_service_port": "8101",
                  "vllm_service_unit_name": "openclaw-vllm-b.service", "openclaw_vllm_node_exporter_port": 9200},
        "gpu-3": {"ansible_host": "fd00::13", "vllm_service_host": "::"},
    }
    found = FILTERS["prometheus_targets"](["gpu-1", "gpu-2", "gpu-3"], hostvars)
    assert found == {
        "openclaw-vllm": [
            {"targets": ["10.0.0.11:8001"], "labels": {"host": "gpu-1", "port": "8001", "unit": "openclaw-vllm.service"}},
            {"targets": ["10.0.0.12:8101"], "labels": {"host": "gpu-2", "port": "8101", "unit": "openclaw-vllm-b.service"}},
            {"targets": ["[fd00::13]:8001"], "labels": {"host": "gpu-3", "port": "8001", "unit": "openclaw-vllm.service"}},
        ],
        "node": [
            {"targets": ["10.0.0.11:9100"], "labels": {"host": "gpu-1"}},
            {"targets": ["gpu-2:9200"], "labels": {"host": "gpu-2"}},
            {"targets": ["[fd00::13]:9100"], "labels": {"host": "gpu-3"}},
        ],
    }


def test_a_lane_on_loopback_is_scraped_from_its_host_or_named():
    hostvars = {"gpu-1": {}}  # vLLM binds 127.0.0.1 unless told otherwise
    local = FILTERS["prometheus_targets"](["gpu-1"], hostvars, scrape_from="local")
    assert local["openclaw-vllm"][0]["targets"] == ["127.0.0.1:8001"]
    assert local["node"][0]["targets"] == ["127.0.0.1:9100"]
    with pytest.raises(AnsibleFilterError, match="vllm_service_host of host gpu-1 is 127.0.0.1: a Prometheus on "
                                                 "another host cannot scrape it"):
        FILTERS["prometheus_targets"](["gpu-1"], hostvars)


@pytest.mark.parametrize("hostvars, message", [
    ({"gpu-1": {"vllm_service_port": "80x1"}}, "vllm_service_port of host gpu-1 is '80x1', expected a port in 1..65535"),
    ({"gpu-1": {"openclaw_vllm_node_exporter_port": 0}}, "openclaw_vllm_node_exporter_port of host gpu-1 is 0"),
    ({}, "host gpu-1 is not in hostvars"),
])
def test_bad_inventory_is_named(hostvars, message):
    with pytest.raises(AnsibleFilterError, match=message.replace("(", r"\(").replace(")", r"\)")):
        FILTERS["prometheus_targets"](["gpu-1"], hostvars, scrape_from="local")
    with pytest.raises(AnsibleFilterError, match="scrape_from is 'elsewhere', expected remote or local"):
        FILTERS["prometheus_targets"](["gpu-1"], {"gpu-1": {}}, scrape_from="elsewhere")


def test_prometheus_accepts_the_config_made_of_them(tmp_path):
    """The scrape jobs and the alert rules, as one prometheus.yml that promtool accepts (it does not
    read file_sd files: the scenario's Prometheus scrapes through them)."""
    file_sd = tmp_path / "file_sd"
    file_sd.mkdir()
    hostvars = {"gpu-1": {"ansible_host": "10.0.0.11", "vllm_service_host": "0.0.0.0"}}
    for job, groups in FILTERS["prometheus_targets"](["gpu-1"], hostvars).items():
        (file_sd / ("%s.yml" % job)).write_text(yaml.safe_dump(groups))
    config = {"global": {"scrape_interval": "15s"}, "rule_files": [str(RULES)],
              "scrape_configs": FILTERS["prometheus_scrape_configs"](str(file_sd) + "/")}
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    out = promtool("check", "config", str(tmp_path / "prometheus.yml"))
    assert "is valid prometheus config file syntax" in out and "SUCCESS: 8 rules found" in out, out
    assert [c["file_sd_configs"][0]["files"] for c in config["scrape_configs"]] == [
        [str(file_sd / "openclaw-vllm.yml")], [str(file_sd / "node.yml")]]
