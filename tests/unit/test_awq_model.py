"""AWQ checks on real checkpoints made by scripts/make-tiny-awq-model.py, through the module."""
import hashlib
import json
import os
import subprocess
import sys

import pytest

from conftest import ROOT

pytestmark = pytest.mark.ansible
ANSIBLE = os.path.join(os.path.dirname(sys.executable), "ansible")


def verify(path, **args):
    params = {"path": str(path), **args}
    env = dict(os.environ, ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_STDOUT_CALLBACK="json",
               ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"))
    proc = subprocess.run([ANSIBLE, "localhost", "-i", "localhost,", "-c", "local", "-e",
                           "ansible_python_interpreter=%s" % sys.executable, "-m", "openclaw.vllm.awq_model_verify",
                           "-a", json.dumps(params)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    return json.loads(proc.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]


def copy_model(src, dst):
    dst.mkdir()
    for name in os.listdir(src):
        (dst / name).write_bytes((src / name).read_bytes())
    return dst


def test_tiny_model_is_awq(tiny_model):
    result = verify(tiny_model)
    assert not result.get("failed"), result
    assert result["changed"] is False
    assert result["quantization"]["quant_method"] == "awq"
    assert result["quantization"]["bits"] == 4
    assert result["weights"] == ["model.safetensors"]
    assert "sha256" not in result["files"]["model.safetensors"], "no digest asked for: no hashing"


def test_matching_sha256_passes(tiny_model):
    digest = hashlib.sha256((tiny_model / "model.safetensors").read_bytes()).hexdigest()
    result = verify(tiny_model, sha256={"model.safetensors": digest})
    assert not result.get("failed"), result
    assert result["files"]["model.safetensors"]["sha256"] == digest


def test_wrong_sha256_is_a_clear_error(tiny_model):
    result = verify(tiny_model, sha256={"model.safetensors": "0" * 64})
    assert result["failed"] is True
    assert "sha256 mismatch, expected %s" % ("0" * 64) in result["msg"]


def test_unquantized_model_is_refused_with_what_was_found(tiny_model, tmp_path):
    model = copy_model(tiny_model, tmp_path / "fp16")
    config = json.loads((model / "config.json").read_text())
    del config["quantization_config"]
    (model / "config.json").write_text(json.dumps(config))
    result = verify(model)
    assert result["failed"] is True
    assert "no quantization_config: this is an unquantized model (architectures=['LlamaForCausalLM'])" in result["msg"]


@pytest.mark.parametrize("key, value, expected", [
    ("quant_method", "gptq", "quant_method is 'gptq', expected 'awq'"),
    ("bits", 8, "bits is 8, expected 4"),
])
def test_other_quantizations_are_refused(tiny_model, tmp_path, key, value, expected):
    model = copy_model(tiny_model, tmp_path / "other")
    config = json.loads((model / "config.json").read_text())
    config["quantization_config"][key] = value
    (model / "config.json").write_text(json.dumps(config))
    result = verify(model)
    assert result["failed"] is True
    assert expected in result["msg"]


def test_missing_weights_are_refused(tiny_model, tmp_path):
    model = copy_model(tiny_model, tmp_path / "noweights")
    (model / "model.safetensors").unlink()
    assert "has no .safetensors weight files" in verify(model)["msg"]


def test_index_naming_a_missing_shard_is_refused(tiny_model, tmp_path):
    model = copy_model(tiny_model, tmp_path / "sharded")
    (model / "model.safetensors.index.json").write_text(json.dumps(
        {"weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}))
    (model / "model.safetensors").rename(model / "model-00001-of-00002.safetensors")
    assert "missing: model-00002-of-00002.safetensors" in verify(model)["msg"]


def test_missing_directory_is_named(tmp_path):
    result = verify(tmp_path / "nowhere")
    assert result["failed"] is True
    assert "nowhere does not exist" in result["msg"]
