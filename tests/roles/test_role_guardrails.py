"""The roles' guardrails, run for real on this machine (connection local, paths in a temp dir):
bad input fails in preflight naming the variable, and a failure never touches what serves."""
import json
import os
import shutil
import subprocess
import sys

import pytest

from helpers.ansible_runs import ansible_env, run_role
from helpers.models import model_vars, url_vars, variant
from helpers.paths import ANSIBLE_PLAYBOOK, ROOT


pytestmark = [
    pytest.mark.ansible,
    pytest.mark.skipif(os.geteuid() != 0, reason="the roles manage root-owned paths"),
]


def not_awq(tiny_model, tmp_path):
    bad = tmp_path / "not-awq"
    shutil.copytree(tiny_model, bad)
    config = json.loads((bad / "config.json").read_text())
    del config["quantization_config"]
    (bad / "config.json").write_text(json.dumps(config))
    return bad


def test_model_is_staged_verified_and_a_rerun_changes_nothing(tiny_model, tmp_path):
    rc, failed, _, stats = run_role(tmp_path, "awq_model", model_vars(tmp_path, tiny_model))
    assert rc == 0, failed
    link = tmp_path / "models" / "tiny"
    manifest = json.loads((link / ".openclaw-manifest.json").read_text())
    assert manifest["quantization"]["quant_method"] == "awq"
    assert (link / "model.safetensors").read_bytes() == (tiny_model / "model.safetensors").read_bytes()
    rc, failed, _, stats = run_role(tmp_path, "awq_model", model_vars(tmp_path, tiny_model))
    assert rc == 0 and stats["changed"] == 0, "a re-run changes nothing"


def test_not_awq_fails_and_the_serving_model_stays(tiny_model, tmp_path):
    assert run_role(tmp_path, "awq_model", model_vars(tmp_path, tiny_model))[0] == 0
    link = tmp_path / "models" / "tiny"
    serving = os.path.realpath(link)
    rc, failed, _, _ = run_role(tmp_path, "awq_model", model_vars(tmp_path, not_awq(tiny_model, tmp_path)))
    assert rc != 0
    msg = failed[-1]["msg"]
    assert "not a usable AWQ model: config.json has no quantization_config" in msg
    assert "The model in use at %s was not touched" % link in msg
    assert os.path.realpath(link) == serving
    assert (link / "model.safetensors").is_file()
    assert not (tmp_path / "models" / ".staging-tiny").exists()


def test_wrong_sha256_fails_naming_the_file(tiny_model, tmp_path):
    rc, failed, _, _ = run_role(tmp_path, "awq_model", model_vars(
        tmp_path, tiny_model, awq_model_sha256={"model.safetensors": "f" * 64}))
    assert rc != 0
    assert "model.safetensors: sha256 mismatch, expected %s" % ("f" * 64) in failed[-1]["msg"]
    assert not (tmp_path / "models" / "tiny").exists()


def test_hosts_of_one_batch_each_list_their_own_local_model(tiny_model, tmp_path):
    """A local model's identity is read per host: in one batch (a roll-out's stage play runs
    every host at once), a host whose inventory names another directory gets that model's
    version, named as a run on that host alone names it (not the first host's listing)."""
    sources = {"h1": variant(tiny_model, tmp_path, "one"), "h2": variant(tiny_model, tmp_path, "two")}
    (tmp_path / "host_vars").mkdir()
    for host, source in sources.items():
        (tmp_path / "host_vars" / (host + ".yml")).write_text(json.dumps(
            model_vars(tmp_path / host, source, ansible_connection="local",
                       ansible_python_interpreter=sys.executable)))
        (tmp_path / host).mkdir()
    (tmp_path / "hosts").write_text("h1\nh2\n")
    (tmp_path / "play.yml").write_text(json.dumps([{"hosts": "all", "gather_facts": False,
                                                    "roles": [{"role": "openclaw.vllm.awq_model"}]}]))
    proc = subprocess.run([ANSIBLE_PLAYBOOK, "-i", str(tmp_path / "hosts"), str(tmp_path / "play.yml")], cwd=ROOT,
                          env=ansible_env(), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:]
    for host, source in sources.items():
        served = tmp_path / host / "models" / "tiny"
        alone = tmp_path / ("alone-" + host)
        alone.mkdir()
        assert run_role(alone, "awq_model", model_vars(alone, source))[0] == 0
        assert os.path.basename(os.path.realpath(served)) == \
            os.path.basename(os.path.realpath(alone / "models" / "tiny")), host
        assert (served / "variant.txt").read_text() == (source / "variant.txt").read_text()


def test_missing_model_path_is_named(tmp_path):
    rc, failed, _, _ = run_role(tmp_path, "awq_model", model_vars(tmp_path, tmp_path / "no-such-model"))
    assert rc != 0
    assert "awq_model_local_path %s does not exist or is empty on the controller" % (tmp_path / "no-such-model") \
        in failed[-1]["msg"]


def test_hf_source_needs_a_pinned_commit(tmp_path):
    rc, failed, _, _ = run_role(tmp_path, "awq_model", {
        "awq_model_root": str(tmp_path / "models"), "awq_model_source": "hf",
        "awq_model_hf_repo": "Qwen/Qwen2.5-14B-Instruct-AWQ", "awq_model_hf_revision": "main"})
    assert rc != 0
    assert "awq_model_hf_revision to a pinned commit, 40 hex digits (got 'main')" in failed[-1]["msg"]


def test_url_source_needs_a_sha256(tmp_path):
    rc, failed, _, _ = run_role(tmp_path, "awq_model", {
        "awq_model_root": str(tmp_path / "models"), "awq_model_source": "url",
        "awq_model_url": "http://127.0.0.1:9/model.tar.gz", "awq_model_url_sha256": "abc"})
    assert rc != 0
    assert "awq_model_url_sha256, 64 hex digits (got 'abc')" in failed[-1]["msg"]


@pytest.mark.parametrize("port, expected", [
    (70000, "vllm_service_port is '70000', expected an integer in 1..65535"),
    (0, "vllm_service_port is '0', expected an integer in 1..65535"),
    ("http", "argument 'vllm_service_port' is of type str and we were unable to convert to int"),
])
def test_port_out_of_range_fails_in_preflight(tmp_path, port, expected):
    rc, failed, results, _ = run_role(tmp_path, "vllm_service", {"vllm_service_port": port})
    assert rc != 0
    assert expected in failed[-1]["msg"]
    assert not [name for name, result in results if result.get("changed")], "nothing changed"


def test_relative_metrics_dir_fails_in_preflight(tmp_path):
    rc, failed, results, _ = run_role(tmp_path, "vllm_service", {"vllm_service_metrics_dir": "var/metrics"})
    assert rc != 0
    assert failed[-1]["msg"] == ("vllm_service_metrics_dir is 'var/metrics', expected an absolute directory "
                                 "(or empty for no metrics)")
    assert not [name for name, result in results if result.get("changed")], "nothing changed"


def test_root_service_user_is_refused(tmp_path):
    rc, failed, _, _ = run_role(tmp_path, "vllm_service", {"vllm_service_user": "root"})
    assert rc != 0
    assert "the service never runs as root" in failed[-1]["msg"]


def test_missing_venv_and_model_are_named(tmp_path):
    rc, failed, results, _ = run_role(tmp_path, "vllm_service", {
        "vllm_service_venv_path": str(tmp_path / "venv"), "vllm_service_model_path": str(tmp_path / "model")})
    assert rc != 0
    msg = failed[-1]["msg"]
    assert "vllm_service_venv_path %s has no bin/vllm" % (tmp_path / "venv") in msg
    assert "vllm_service_model_path %s has no config.json" % (tmp_path / "model") in msg
    assert not [name for name, result in results if result.get("changed")]


def test_unknown_accelerator_is_named(tmp_path):
    rc, failed, _, _ = run_role(tmp_path, "vllm_venv", {"vllm_venv_accelerator": "gpu",
                                                        "vllm_venv_root": str(tmp_path / "venvs")})
    assert rc != 0
    assert "value of vllm_venv_accelerator must be one of: auto, cuda, cpu, got: gpu" in failed[-1]["msg"]


def test_failed_build_never_touches_the_venv_in_use(tmp_path):
    """A build that cannot install (an empty wheelhouse) is removed; current and its target stay."""
    root = tmp_path / "venvs"
    serving = root / "builds" / "vllm-cpu-serving"
    serving.mkdir(parents=True)
    (serving / ".openclaw-build.json").write_text("{}")
    (root / "current").symlink_to(serving)
    wheelhouse = tmp_path / "empty-wheelhouse"
    wheelhouse.mkdir()
    rc, failed, _, _ = run_role(tmp_path, "vllm_venv", {
        "vllm_venv_root": str(root), "vllm_venv_accelerator": "cpu", "vllm_venv_wheelhouse": str(wheelhouse),
        "vllm_venv_python": sys.executable, "vllm_venv_min_free_gb": 0})
    assert rc != 0
    msg = failed[-1]["msg"]
    assert "failed; %s was not touched" % (root / "current") in msg
    assert os.readlink(root / "current") == str(serving)
    assert (serving / ".openclaw-build.json").is_file()
    assert [p.name for p in (root / "builds").iterdir()] == ["vllm-cpu-serving"], "the failed build is gone"


def test_url_source_downloads_checks_and_unpacks(model_archive_server, tiny_model, tmp_path):
    url, sha256 = model_archive_server
    rc, failed, _, _ = run_role(tmp_path, "awq_model", url_vars(tmp_path, url, sha256))
    assert rc == 0, failed
    link = tmp_path / "models" / "tiny"
    assert (link / "model.safetensors").read_bytes() == (tiny_model / "model.safetensors").read_bytes()
    assert not list((tmp_path / "models").glob(".download-*")), "the archive is removed"
    rc, _, _, stats = run_role(tmp_path, "awq_model", url_vars(tmp_path, url, sha256))
    assert rc == 0 and stats["changed"] == 0


def test_url_with_a_wrong_archive_sha256_fails_and_keeps_the_model(model_archive_server, tmp_path):
    url, sha256 = model_archive_server
    assert run_role(tmp_path, "awq_model", url_vars(tmp_path, url, sha256))[0] == 0
    serving = os.path.realpath(tmp_path / "models" / "tiny")
    rc, failed, _, _ = run_role(tmp_path, "awq_model", url_vars(tmp_path, url, "0" * 64))
    assert rc != 0
    assert "Fetching the model (url) failed" in failed[-1]["msg"]
    assert "checksum" in failed[-1]["msg"].lower()
    assert os.path.realpath(tmp_path / "models" / "tiny") == serving
    assert not (tmp_path / "models" / ".staging-tiny").exists()


def test_a_bad_lane_list_is_refused_naming_each_lane_and_field_before_any_change(tmp_path):
    lanes = [{"name": "default"}, {"name": "b", "served_model_name": "b"}, {"name": "Bad"}]
    rc, failed, results, _ = run_role(tmp_path, "vllm_service", {"vllm_service_lanes": lanes})
    assert rc != 0 and not [name for name, result in results if result.get("changed")]
    msg = failed[-1]["msg"]
    assert "lanes 'default' and 'b': the same port 8001 (each lane needs its own)" in msg, msg
    assert "lane 3: name 'Bad': expected lowercase letters, digits and inner dashes (at most 32)" in msg, msg


def test_a_lane_list_with_a_unit_name_of_its_own_is_refused(tmp_path):
    rc, failed, _, _ = run_role(tmp_path, "vllm_service", {"vllm_service_lanes": [{"name": "default"}],
                                                          "vllm_service_unit_name": "my-vllm.service"})
    assert rc != 0
    assert failed[-1]["msg"].startswith("vllm_service_lanes names each lane's unit itself"), failed[-1]["msg"]


def test_a_lane_list_serves_every_lane_not_one_named_by_vllm_service_lane(tmp_path):
    """-e vllm_service_lane=b would name lane b to every lane's tasks (extra vars win): refused."""
    rc, failed, results, _ = run_role(tmp_path, "vllm_service", {
        "vllm_service_lanes": [{"name": "default"}, {"name": "b", "port": 8002}], "vllm_service_lane": "b"})
    assert rc != 0 and not [name for name, result in results if result.get("changed")]
    assert "the lane 'b')" in failed[-1]["msg"], failed[-1]["msg"]


def test_a_rollback_of_a_lane_the_list_lacks_is_refused_naming_the_lanes(tmp_path):
    rc, failed, results, _ = run_role(tmp_path, "vllm_service", {
        "vllm_service_lanes": [{"name": "default"}, {"name": "b", "port": 8002}], "vllm_service_lane": "c"},
        tasks_from="rollback")
    assert rc != 0 and not [name for name, result in results if result.get("changed")]
    assert failed[-1]["msg"] == ("vllm_service_lane 'c' is not one of this host's vllm_service_lanes (default, b): "
                                 "nothing was changed"), failed[-1]["msg"]
