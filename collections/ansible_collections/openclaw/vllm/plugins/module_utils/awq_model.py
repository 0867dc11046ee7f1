# -*- coding: utf-8 -*-
# Copyright: openclaw.vllm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Check that a directory holds a 4-bit AWQ checkpoint vLLM can serve (stdlib only)."""

from __future__ import annotations

import hashlib
import json
import os

HASH_CHUNK = 4 * 1024 * 1024


class ModelError(ValueError):
    """The directory is not a usable AWQ checkpoint; the message says what was found."""


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(HASH_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_config(path):
    config_path = os.path.join(path, "config.json")
    if not os.path.isdir(path):
        raise ModelError("model directory %s does not exist" % path)
    if not os.path.isfile(config_path):
        raise ModelError("%s has no config.json: not a Hugging Face checkpoint" % path)
    try:
        with open(config_path) as handle:
            return json.load(handle)
    except ValueError as exc:
        raise ModelError("%s is not valid JSON: %s" % (config_path, exc))


def check_quantization(config, bits=4):
    """Raise ModelError unless config.json says AWQ with ``bits`` bits."""
    quant = config.get("quantization_config")
    if not isinstance(quant, dict):
        raise ModelError("config.json has no quantization_config: this is an unquantized model "
                         "(architectures=%s), expected an AWQ checkpoint" % config.get("architectures"))
    method = str(quant.get("quant_method", "")).lower()
    if method != "awq":
        raise ModelError("config.json quantization_config.quant_method is %r, expected 'awq'" % quant.get("quant_method"))
    found_bits = quant.get("bits", quant.get("w_bit"))
    if found_bits != bits:
        raise ModelError("config.json quantization_config.bits is %r, expected %d" % (found_bits, bits))
    return quant


def safetensors_files(path):
    """The weight files, as the index names them when there is one; all must exist."""
    index_path = os.path.join(path, "model.safetensors.index.json")
    if os.path.isfile(index_path):
        with open(index_path) as handle:
            names = sorted(set(json.load(handle).get("weight_map", {}).values()))
        missing = [name for name in names if not os.path.isfile(os.path.join(path, name))]
        if missing:
            raise ModelError("%s lists weight files that are missing: %s" % (index_path, ", ".join(missing)))
    else:
        names = sorted(name for name in os.listdir(path) if name.endswith(".safetensors"))
    if not names:
        raise ModelError("%s has no .safetensors weight files" % path)
    return names


def verify_model(path, bits=4, sha256=None, hash_all=False):
    """Check config, weights and checksums. Returns a summary dict; raises ModelError.

    Only files with an expected digest in ``sha256`` are hashed, unless ``hash_all``
    (then every weight file is hashed and its digest returned).
    """
    sha256 = dict(sha256 or {})
    config = read_config(path)
    quant = check_quantization(config, bits)
    weights = safetensors_files(path)
    files = {}
    for name in sorted(set(weights) | set(sha256)):
        full = os.path.join(path, name)
        if not os.path.isfile(full):
            raise ModelError("%s: expected file %s (it has a sha256 to check) is missing" % (path, name))
        entry = {"size": os.path.getsize(full)}
        if name in sha256 or hash_all:
            entry["sha256"] = sha256_file(full)
            expected = sha256.get(name)
            if expected and entry["sha256"] != expected.lower():
                raise ModelError("%s: sha256 mismatch, expected %s, got %s" % (full, expected, entry["sha256"]))
        files[name] = entry
    return {
        "path": path,
        "architectures": config.get("architectures"),
        "quantization": {"quant_method": "awq", "bits": quant.get("bits", quant.get("w_bit")),
                         "group_size": quant.get("group_size", quant.get("q_group_size")),
                         "version": quant.get("version")},
        "weights": weights,
        "files": files,
        "total_bytes": sum(entry["size"] for entry in files.values()),
    }
