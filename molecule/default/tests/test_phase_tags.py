"""vllm_service's phase tags alone, and what restarts the unit, on the real test host.

Runs the project's site.yml from the controller against the test host (as an operator would),
with the demo inventory's variables. Each phase tag alone must succeed and change nothing;
new guard/status code on the host is rewritten without a restart; a changed unit restarts it."""
import pytest

from siteplay import inventory_for, runner
from testhost import HOME, INSTANCE

LIB = HOME + "/.local/lib/openclaw-vllm"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    return runner(inventory_for(tmp_path_factory.mktemp("inventory"), [INSTANCE]), INSTANCE)


def started(testhost):
    return testhost.unit_property("MainPID"), testhost.unit_property("ExecMainStartTimestampMonotonic")


@pytest.mark.parametrize("tag", ["vllm_service_preflight", "vllm_service_install", "vllm_service_configure",
                                 "vllm_service_run", "vllm_service"])
def test_each_phase_tag_alone_works_and_changes_nothing(testhost, site, tag):
    before = started(testhost)
    rc, changed, failed = site("--tags", tag)
    assert rc == 0, failed
    assert changed == [], changed
    assert started(testhost) == before


def test_new_guard_code_on_the_host_does_not_restart_the_service(testhost, site):
    before = started(testhost)
    for name in ("host/guard_cli.py", "host/status.py"):
        testhost.run("echo '# an older collection' >> %s/%s" % (LIB, name))
    rc, changed, failed = site("--tags", "vllm_service")
    assert rc == 0, failed
    assert any("Install the host package" in name for name in changed), changed
    assert started(testhost) == before, "the guard takes effect at the next start; no restart for it"
    assert "an older collection" not in testhost.run("cat %s/host/guard_cli.py" % LIB).stdout


def test_a_changed_unit_restarts_the_running_service_once(testhost, site):
    before = started(testhost)
    unit = HOME + "/.config/systemd/user/openclaw-vllm.service"
    testhost.run("echo '# edited by hand' >> %s" % unit)
    rc, changed, failed = site("--tags", "vllm_service")
    assert rc == 0, failed
    assert any("Restart the unit that runs what its unit or environment file no longer says" in name
               for name in changed), changed
    after = started(testhost)
    assert after[0] != before[0] and after[1] != before[1], "restarted"


def test_a_rerun_puts_back_modes_and_owners_changed_by_hand(testhost, site):
    """The role reads its files in the service user's home once and writes only what differs:
    a mode or an owner changed by hand differs too, and is put back (without a restart)."""
    before = started(testhost)
    conf = HOME + "/.config/openclaw-vllm/service.conf"
    testhost.run("chmod 0700 %s/.local/bin && chown root %s" % (HOME, conf))
    rc, changed, failed = site("--tags", "vllm_service")
    assert rc == 0, failed
    assert any("Create the guard's directories" in name for name in changed), changed
    assert any("Write the service config" in name for name in changed), changed
    assert testhost.run("stat -c '%%a %%U' %s/.local/bin %s" % (HOME, conf)).stdout.split() == \
        ["755", "vllm", "644", "vllm"]
    assert started(testhost) == before
    rc, changed, failed = site("--tags", "vllm_service")
    assert (rc, changed) == (0, []), failed
