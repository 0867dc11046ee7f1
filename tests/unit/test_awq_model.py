"""AWQ checks on real checkpoints made by scripts/make-tiny-awq-model.py, through the module."""
import hashlib
import json

import pytest

from helpers.ansible_runs import run_module
from helpers.models import INDEX, copy_model


pytestmark = pytest.mark.ansible


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


def corrupt(model, name, data):
    (model / name).write_bytes(data)


def truncate(model, name, keep):
    data = (model / name).read_bytes()
    (model / name).write_bytes(data[:keep] if keep >= 0 else data[:len(data) + keep])


def garble_header(model, name):
    data = bytearray((model / name).read_bytes())
    data[8] = ord("!")  # the header's opening brace
    (model / name).write_bytes(bytes(data))


@pytest.mark.parametrize("damage, name, expected", [
    (lambda m: corrupt(m, "config.json", b'{"architectures": ['), "config.json", "is not valid JSON: Expecting value"),
    (lambda m: corrupt(m, "config.json", b""), "config.json", "is not valid JSON"),
    (lambda m: corrupt(m, "config.json", b"\xff\xfe{}"), "config.json", "is not valid JSON"),
    (lambda m: corrupt(m, "config.json", b"[1, 2]"), "config.json", "must hold a JSON object, found list"),
    (lambda m: corrupt(m, INDEX, b'{"weight_map": {"a": "model.safet'), INDEX, "is not valid JSON"),
    (lambda m: corrupt(m, INDEX, b""), INDEX, "is not valid JSON: Expecting value"),
    (lambda m: corrupt(m, INDEX, b'"weight_map"'), INDEX, "must hold a JSON object, found str"),
    (lambda m: corrupt(m, INDEX, b'{"weight_map": ["model.safetensors"]}'), INDEX,
     "weight_map must map tensor names to file names"),
    (lambda m: corrupt(m, INDEX, b'{"weight_map": {"a": 7}}'), INDEX, "weight_map must map tensor names to file names"),
    (lambda m: corrupt(m, INDEX, b'{"weight_map": {"a": "../../etc/x.safetensors"}}'), INDEX,
     "names weight files outside the model: ../../etc/x.safetensors"),
    (lambda m: truncate(m, "model.safetensors", -100), "model.safetensors", "is truncated: its header says"),
    (lambda m: truncate(m, "model.safetensors", 5), "model.safetensors", "is not a safetensors file (truncated"),
    (lambda m: garble_header(m, "model.safetensors"), "model.safetensors", "has a corrupt safetensors header"),
])
def test_a_corrupt_file_is_named_not_a_bare_parse_error(tiny_model, tmp_path, damage, name, expected):
    model = copy_model(tiny_model, tmp_path / "corrupt")
    if name == INDEX:
        corrupt(model, INDEX, b'{"weight_map": {"a": "model.safetensors"}}')
    damage(model)
    result = verify(model)
    assert result["failed"] is True, result
    assert "not a usable AWQ model: %s" % (model / name) in result["msg"]
    assert expected in result["msg"]
    assert "Traceback" not in result.get("module_stderr", "")


def test_a_sharded_model_with_a_good_index_passes(tiny_model, tmp_path):
    model = copy_model(tiny_model, tmp_path / "indexed")
    corrupt(model, INDEX, json.dumps({"metadata": {}, "weight_map": {"a": "model.safetensors"}}).encode())
    result = verify(model)
    assert not result.get("failed"), result
    assert result["weights"] == ["model.safetensors"]


def verify(path, **args):
    return run_module("awq_model_verify", {"path": str(path), **args})
