# -*- coding: utf-8 -*-
# Copyright: openclaw.vllm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Check that a directory holds a 4-bit AWQ checkpoint vLLM can serve (stdlib only)."""

from __future__ import annotations

import hashlib
import json
import os

HASH_CHUNK = 4 * 1024 * 1024
# safetensors itself refuses a header over 100 MB (MAX_HEADER_SIZE); reading a larger one would
# take whatever memory the file's first 8 bytes ask for.
MAX_HEADER_BYTES = 100_000_000
# Real config.json, index and headers nest a few levels; deeper is no checkpoint, and deep enough
# nesting makes the json module (and every repr of the value) raise RecursionError.
MAX_JSON_DEPTH = 64
# How many names a message lists before it only counts the rest.
LISTED_NAMES = 10


class ModelError(ValueError):
    """The directory is not a usable AWQ checkpoint; the message says what was found."""


class TooDeep(ValueError):
    """JSON nested deeper than MAX_JSON_DEPTH."""


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(HASH_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def listed(names, limit=LISTED_NAMES):
    """'a, b, c and 199997 more': a message stays short however many names there are."""
    names = list(names)
    shown = ", ".join(names[:limit])
    return shown if len(names) <= limit else "%s and %d more" % (shown, len(names) - limit)


def json_depth(value):
    """How deeply ``value`` nests lists and objects (0 for a scalar), without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, depth)
            if depth <= MAX_JSON_DEPTH:  # enough to know it is too deep
                stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def parse_json(data):
    """The JSON value of ``data`` (UTF-8 bytes). ValueError for bad JSON or bad UTF-8, and TooDeep
    (a ValueError too) for nesting no checkpoint has, where json itself would raise RecursionError."""
    too_deep = TooDeep("nests lists and objects more than %d levels deep" % MAX_JSON_DEPTH)
    text = data.decode("utf-8")  # not json's own guess: bytes that are not UTF-8 are refused
    try:
        value = json.loads(text)
    except RecursionError:
        raise too_deep
    if json_depth(value) > MAX_JSON_DEPTH:
        raise too_deep
    return value


def read_json_object(path):
    """A JSON object from ``path``; anything else (bad JSON, bad UTF-8, a list, deep nesting) names the file."""
    try:
        with open(path, "rb") as handle:
            value = parse_json(handle.read())
    except TooDeep as exc:
        raise ModelError("%s %s, expected a JSON object a few levels deep" % (path, exc))
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError both are
        raise ModelError("%s is not valid JSON: %s" % (path, exc))
    except OSError as exc:
        raise ModelError("%s cannot be read: %s" % (path, exc.strerror or exc))
    if not isinstance(value, dict):
        raise ModelError("%s must hold a JSON object, found %s" % (path, type(value).__name__))
    return value


def read_config(path):
    config_path = os.path.join(path, "config.json")
    if not os.path.isdir(path):
        raise ModelError("model directory %s does not exist" % path)
    if not os.path.isfile(config_path):
        raise ModelError("%s has no config.json: not a Hugging Face checkpoint" % path)
    return read_json_object(config_path)


def shown_value(value, limit=200):
    """``value`` as Python shows it, cut to ``limit`` characters (parse_json bounded its nesting)."""
    text = repr(value)
    return text if len(text) <= limit else "%s... (%d characters)" % (text[:limit], len(text))


def check_quantization(config, bits=4):
    """Raise ModelError unless config.json says AWQ with ``bits`` bits."""
    quant = config.get("quantization_config")
    if not isinstance(quant, dict):
        raise ModelError("config.json has no quantization_config: this is an unquantized model "
                         "(architectures=%s), expected an AWQ checkpoint" % shown_value(config.get("architectures")))
    method = str(quant.get("quant_method", "")).lower()
    if method != "awq":
        raise ModelError("config.json quantization_config.quant_method is %s, expected 'awq'"
                         % shown_value(quant.get("quant_method")))
    found_bits = quant.get("bits", quant.get("w_bit"))
    if found_bits != bits:
        raise ModelError("config.json quantization_config.bits is %s, expected %d" % (shown_value(found_bits), bits))
    return quant


def safetensors_files(path):
    """The weight files, as the index names them when there is one; all must exist."""
    index_path = os.path.join(path, "model.safetensors.index.json")
    if os.path.isfile(index_path):
        weight_map = read_json_object(index_path).get("weight_map")
        if not isinstance(weight_map, dict) or not weight_map or \
                not all(isinstance(name, str) and name for name in weight_map.values()):
            raise ModelError("%s: weight_map must map tensor names to file names, found %s"
                             % (index_path, shown_value(weight_map)))
        names = sorted(set(weight_map.values()))
        outside = [name for name in names if os.path.isabs(name) or ".." in name.split("/")]
        if outside:
            raise ModelError("%s names weight files outside the model: %s" % (index_path, listed(outside)))
        missing = [name for name in names if not os.path.isfile(os.path.join(path, name))]
        if missing:
            raise ModelError("%s lists weight files that are missing: %s" % (index_path, listed(missing)))
    else:
        names = sorted(name for name in os.listdir(path) if name.endswith(".safetensors"))
    if not names:
        raise ModelError("%s has no .safetensors weight files" % path)
    for name in names:
        check_safetensors_header(os.path.join(path, name))
    return names


def check_safetensors_header(path):
    """A safetensors file starts with an 8-byte little-endian header length and a JSON header
    whose tensors lie within the file: a truncated or garbled file is named here, cheaply
    (the header only), instead of failing inside vLLM."""
    size = os.path.getsize(path)
    with open(path, "rb") as handle:
        head = handle.read(8)
        length = int.from_bytes(head, "little") if len(head) == 8 else -1
        if length < 2 or 8 + length > size:
            raise ModelError("%s is not a safetensors file (truncated, or its header length %d does not fit "
                             "its %d bytes)" % (path, length, size))
        if length > MAX_HEADER_BYTES:
            raise ModelError("%s has a safetensors header of %d bytes, more than the %d bytes safetensors allows"
                             % (path, length, MAX_HEADER_BYTES))
        try:
            header = parse_json(handle.read(length))
        except ValueError as exc:
            raise ModelError("%s has a corrupt safetensors header: %s" % (path, exc))
    if not isinstance(header, dict):
        raise ModelError("%s has a corrupt safetensors header: not a JSON object" % path)
    end = max([info["data_offsets"][1] for key, info in header.items()
               if key != "__metadata__" and isinstance(info, dict)
               and isinstance(info.get("data_offsets"), list) and len(info["data_offsets"]) == 2
               and isinstance(info["data_offsets"][1], int)] or [0])
    if 8 + length + end > size:
        raise ModelError("%s is truncated: its header says %d bytes of tensors, the file holds %d"
                         % (path, end, size - 8 - length))


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
