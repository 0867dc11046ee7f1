"""openclaw.vllm.awq_model_verify on checkpoints made hostile on purpose: a safetensors header that
declares more than safetensors allows, JSON nested past Python's recursion limit (config.json, the
index, a header) and an index naming 200,000 missing shards. Each is a short error that names the
file, never a traceback, never the whole input read into memory or echoed back."""
import json
import os
import struct

import pytest

from helpers.ansible_runs import run_module
from helpers.models import INDEX, copy_model


pytestmark = pytest.mark.ansible


def deep(levels):
    return "[" * levels + "]" * levels


def refused(result, path):
    assert result["failed"] is True, result
    assert "Traceback" not in result.get("module_stderr", "") and "MODULE FAILURE" not in result["msg"], result
    assert result["msg"].startswith("not a usable AWQ model: %s" % path), result["msg"]
    return result["msg"]


def test_a_header_larger_than_safetensors_allows_is_refused_unread(tiny_model, tmp_path):
    """8 bytes declare a 150 MB header; the file (sparse) is that large, so only the limit stops the read."""
    model = copy_model(tiny_model, tmp_path / "huge-header")
    weights = model / "model.safetensors"
    declared = 150_000_000
    with open(weights, "wb") as handle:
        handle.write(struct.pack("<Q", declared))
        handle.truncate(8 + declared + 1024)
    msg = refused(verify(model), weights)
    assert msg.endswith("has a safetensors header of 150000000 bytes, more than the 100000000 bytes safetensors "
                        "allows"), msg


@pytest.mark.parametrize("levels", [100, 100_000], ids=["past-the-bound", "past-the-recursion-limit"])
def test_deep_nesting_in_config_json_names_the_file(tiny_model, tmp_path, levels):
    model = copy_model(tiny_model, tmp_path / "deep-config")
    config = json.loads((model / "config.json").read_text())
    text = json.dumps(config)[:-1] + ', "deep": %s}' % deep(levels)
    (model / "config.json").write_text(text)
    msg = refused(verify(model), model / "config.json")
    assert msg.endswith("config.json nests lists and objects more than 64 levels deep, expected a JSON object a "
                        "few levels deep"), msg


def test_deep_nesting_in_the_index_names_the_file(tiny_model, tmp_path):
    model = copy_model(tiny_model, tmp_path / "deep-index")
    (model / INDEX).write_text('{"weight_map": {"a": "model.safetensors"}, "metadata": %s}' % deep(100_000))
    msg = refused(verify(model), model / INDEX)
    assert "nests lists and objects more than 64 levels deep" in msg


def test_deep_nesting_in_a_safetensors_header_names_the_file(tiny_model, tmp_path):
    model = copy_model(tiny_model, tmp_path / "deep-header")
    header = ('{"__metadata__": {"x": %s}}' % deep(100_000)).encode()
    weights = model / "model.safetensors"
    weights.write_bytes(struct.pack("<Q", len(header)) + header)
    msg = refused(verify(model), weights)
    assert msg.endswith("model.safetensors has a corrupt safetensors header: nests lists and objects more than 64 "
                        "levels deep"), msg


def test_an_index_naming_200000_missing_shards_gives_a_short_message(tiny_model, tmp_path):
    model = copy_model(tiny_model, tmp_path / "many-shards")
    shards = ["model-%06d-of-200000.safetensors" % n for n in range(1, 200_001)]
    (model / INDEX).write_text(json.dumps({"weight_map": {"t%d" % n: name for n, name in enumerate(shards)}}))
    msg = refused(verify(model), model / INDEX)
    assert msg.endswith("lists weight files that are missing: %s and 199990 more" % ", ".join(shards[:10])), msg[:500]
    assert len(msg) < 1000


def test_many_names_outside_the_model_give_a_short_message(tiny_model, tmp_path):
    model = copy_model(tiny_model, tmp_path / "outside")
    names = ["../x%05d.safetensors" % n for n in range(50_000)]
    (model / INDEX).write_text(json.dumps({"weight_map": {"t%d" % n: name for n, name in enumerate(names)}}))
    msg = refused(verify(model), model / INDEX)
    assert msg.endswith("names weight files outside the model: %s and 49990 more" % ", ".join(names[:10])), msg[:500]


def test_a_huge_quant_method_is_cut_in_the_message(tiny_model, tmp_path):
    model = copy_model(tiny_model, tmp_path / "huge-value")
    config = json.loads((model / "config.json").read_text())
    config["quantization_config"]["quant_method"] = "g" * 1_000_000
    (model / "config.json").write_text(json.dumps(config))
    result = verify(model)
    assert result["failed"] is True
    assert "quant_method is '%s... (1000002 characters), expected 'awq'" % ("g" * 199) in result["msg"]
    assert len(result["msg"]) < 1000
    assert os.path.getsize(model / "config.json") > 1_000_000


def verify(path, **args):
    return run_module("awq_model_verify", {"path": str(path), **args})
