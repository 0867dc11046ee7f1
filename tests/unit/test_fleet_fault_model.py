"""The models of the molecule scenario `fleet`: v1, v2 (other weights) and the fault injected on
host 2 (v2 whose config.json disagrees with its tensors), made by scripts/make-tiny-awq-model.py.

The fault must pass every AWQ check the collection makes (openclaw.vllm.awq_model_verify, the
module the awq_model role runs on the staged copy), so that only vLLM notices it, at load. That
vLLM refuses it is shown in the fleet scenario (host 2 rolls back) and was checked by hand with
the fleet image's vLLM (see molecule/fleet/molecule.yml); here: the checks pass, and the
inconsistency vLLM trips over is really in the files.
"""
import hashlib
import json
import os
import subprocess
import sys

import pytest

from helpers.ansible_runs import run_module
from helpers.paths import ROOT


pytestmark = pytest.mark.ansible
SCRIPT = str(ROOT / "scripts/make-tiny-awq-model.py")
FAULT_INTERMEDIATE = 512  # what scripts/test.sh passes for the fleet's faulty v2


def make(out, *args):
    subprocess.run([sys.executable, SCRIPT, str(out), *args], check=True, capture_output=True)
    return out


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    pytest.importorskip("safetensors")
    base = tmp_path_factory.mktemp("fleet-models")
    return {
        "v1": make(base / "v1"),
        "v2": make(base / "v2", "--seed", "1"),
        "fault": make(base / "v2-fault", "--seed", "1", "--fault-intermediate-size", str(FAULT_INTERMEDIATE)),
    }


def safetensors_shapes(path):
    with open(path, "rb") as handle:
        length = int.from_bytes(handle.read(8), "little")
        header = json.loads(handle.read(length))
    return {name: info["shape"] for name, info in header.items() if name != "__metadata__"}


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_default_output_is_still_v1(models, tmp_path):
    """The options added for the fleet leave the default model byte for byte as it was."""
    again = make(tmp_path / "seed0", "--seed", "0")
    for name in os.listdir(models["v1"]):
        assert sha256(models["v1"] / name) == sha256(again / name), name
    config = json.loads((models["v1"] / "config.json").read_text())
    assert config["intermediate_size"] == 256


def test_v2_is_another_version_of_the_same_model(models):
    """Same config and tokenizer, other weights: a new model version to roll out."""
    v1, v2 = models["v1"], models["v2"]
    assert sorted(os.listdir(v1)) == sorted(os.listdir(v2))
    for name in os.listdir(v1):
        if name == "model.safetensors":
            assert sha256(v1 / name) != sha256(v2 / name)
        else:
            assert (v1 / name).read_bytes() == (v2 / name).read_bytes(), name
    assert safetensors_shapes(v1 / "model.safetensors") == safetensors_shapes(v2 / "model.safetensors")


def test_fault_differs_from_v2_only_in_config(models):
    v2, fault = models["v2"], models["fault"]
    for name in os.listdir(v2):
        if name != "config.json":
            assert (v2 / name).read_bytes() == (fault / name).read_bytes(), name
    good = json.loads((v2 / "config.json").read_text())
    bad = json.loads((fault / "config.json").read_text())
    assert bad.pop("intermediate_size") == FAULT_INTERMEDIATE
    assert good.pop("intermediate_size") == 256
    assert bad == good


def test_fault_passes_the_awq_checks(models):
    """Everything awq_model_verify checks is fine: config, AWQ 4-bit, weight files, headers, digests."""
    digest = sha256(models["fault"] / "model.safetensors")
    result = verify(models["fault"], hash_all=True, sha256={"model.safetensors": digest})
    assert not result.get("failed"), result
    assert result["quantization"] == {"quant_method": "awq", "bits": 4, "group_size": 32, "version": "gemm"}
    assert result["weights"] == ["model.safetensors"]
    assert result["files"]["model.safetensors"]["sha256"] == digest
    for name in ("v1", "v2"):
        assert not verify(models[name]).get("failed")


def test_fault_config_disagrees_with_its_tensors(models):
    """What vLLM trips over at load: it builds the MLP from config.json (intermediate 512, so AWQ
    GEMM qweight [hidden, 512/8] for gate/up, [512, hidden/8] for down) and its weight loader
    finds the checkpoint's tensors (intermediate 256) the wrong shape."""
    config = json.loads((models["fault"] / "config.json").read_text())
    shapes = safetensors_shapes(models["fault"] / "model.safetensors")
    hidden, pack = config["hidden_size"], 32 // config["quantization_config"]["bits"]
    for layer in range(config["num_hidden_layers"]):
        prefix = "model.layers.%d.mlp." % layer
        assert shapes[prefix + "gate_proj.qweight"] == [hidden, 256 // pack]
        assert shapes[prefix + "up_proj.qweight"] == [hidden, 256 // pack]
        assert shapes[prefix + "down_proj.qweight"] == [256, hidden // pack]
        assert shapes[prefix + "gate_proj.qweight"] != [hidden, config["intermediate_size"] // pack]
        assert shapes[prefix + "down_proj.qweight"][0] != config["intermediate_size"]


def verify(path, **args):
    return run_module("awq_model_verify", {"path": str(path), **args})
