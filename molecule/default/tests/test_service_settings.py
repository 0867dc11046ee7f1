"""What the running unit was given, compared with what the inventory asked for."""
import json
import os

import yaml

from testhost import BIN, HOME, PORT, UNIT

PROJECT = os.environ.get("MOLECULE_PROJECT_DIRECTORY", os.getcwd())
with open(os.path.join(PROJECT, "inventory/demo/group_vars/vllm_hosts.yml")) as handle:
    INVENTORY = yaml.safe_load(handle)


def test_guard_decided_ok_for_this_start(testhost):
    """Only the current start counts: an OK logged by an older start proves nothing."""
    assert testhost.guard_lines_of_this_start() == ["VLLM_PORT_OK port=%d" % PORT]


def test_api_key_is_the_one_the_inventory_gave(testhost):
    expected = INVENTORY["vllm_service_api_key"]
    assert testhost.api_key() == expected
    status = testhost.run("curl -sS -o /dev/null -w '%%{http_code}' -H 'Authorization: Bearer %s' "
                          "http://127.0.0.1:%d/v1/models" % (expected.replace("'", "'\\''"), PORT)).stdout
    assert status == "200"
    assert testhost.run("curl -sS -o /dev/null -w '%%{http_code}' -H 'Authorization: Bearer wrong-%s' "
                        "http://127.0.0.1:%d/v1/models" % ("x", PORT)).stdout == "401"


def test_status_reads_the_service_config_the_role_wrote(testhost):
    config = testhost.run("cat %s/.config/openclaw-vllm/service.conf" % HOME).stdout
    assert "port=%d\n" % PORT in config and "unit=%s\n" % UNIT in config
    facts = json.loads(testhost.as_user("%s/openclaw-vllm status --json" % BIN).stdout)  # no flags
    assert facts["port"] == PORT and facts["healthy"] is True
    assert facts["probe"]["holders"] and all(h["kind"] == "vllm_like" for h in facts["probe"]["holders"])
