#!/usr/bin/env python3
"""Write a tiny, random, 4-bit AWQ Llama checkpoint that vLLM (CPU too) can serve.

    python3 scripts/make-tiny-awq-model.py OUTDIR [--seed N] [--fault-intermediate-size N]

Offline and deterministic: the same seed gives byte-identical files, and a file that is
already there with the same bytes is left untouched (its mtime too), so a second run changes
nothing on disk (`make demo` twice stages no new model version). Needs only numpy,
safetensors and tokenizers (no torch, no transformers). Output is ~0.5 MB:

    config.json             LlamaForCausalLM, 2 layers, hidden 128, 4 heads x head_dim 32,
                            2 KV heads, intermediate 256, quantization_config awq/gemm
    generation_config.json
    model.safetensors       q/k/v/o/gate/up/down as AWQ GEMM (qweight, qzeros, scales);
                            embed_tokens, norms and lm_head in float16
    tokenizer.json          byte-level BPE trained on a few sentences
    tokenizer_config.json   special tokens and a ChatML chat_template (with tools)
    special_tokens_map.json

The weights are random: the model produces gibberish, but real gibberish computed by the
real attention/AWQ kernels (head_dim 32 is supported by vLLM's CPU attention; 16 is not).
Serve it with e.g. `vllm serve OUTDIR --quantization awq --dtype bfloat16`.

Another --seed gives another model version (same config and tokenizer, other weights).
--fault-intermediate-size N writes N as config.json's intermediate_size while the tensors keep
theirs (256): a checkpoint that passes the collection's AWQ checks (config, quantization, weight
files and headers) but that vLLM cannot load (its weight loader finds the MLP shapes wrong).
The molecule scenario `fleet` injects it on one host.

AWQ GEMM layout (AutoAWQ WQLinear_GEMM, version "gemm"), for a linear layer with
in_features K, out_features N, group size G, 4 bits, W_fp[k, n] = (q[k, n] - z[k//G, n]) * s[k//G, n]
and y = x @ W_fp:
    qweight int32 [K, N/8]    eight 4-bit values per int32 along N
    qzeros  int32 [K/G, N/8]  same packing
    scales  fp16  [K/G, N]
Within each int32, nibble i (bits 4i..4i+3) holds column 8*j + AWQ_ORDER[i], with
AWQ_ORDER = [0, 2, 4, 6, 1, 3, 5, 7].
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from safetensors.numpy import save_file  # noqa: E402
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers  # noqa: E402
from tokenizers import processors  # noqa: E402

AWQ_ORDER = (0, 2, 4, 6, 1, 3, 5, 7)
BITS = 4
GROUP_SIZE = 32

HIDDEN = 128
HEADS = 4
KV_HEADS = 2
HEAD_DIM = HIDDEN // HEADS  # 32: vLLM CPU attention supports 32, 64, 80, 96, 112, 128...
INTERMEDIATE = 256
LAYERS = 2
MAX_POS = 2048
BPE_VOCAB = 600

BOS, EOS, PAD = "<s>", "</s>", "<pad>"
IM_START, IM_END = "<|im_start|>", "<|im_end|>"
SPECIAL = [BOS, EOS, PAD, IM_START, IM_END]
# Plain added tokens, as in Qwen2.5 (the hermes tool parser looks for these strings).
ADDED = ["<tool_call>", "</tool_call>"]

CORPUS = [
    "The quick brown fox jumps over the lazy dog.",
    "OpenClaw serves a local assistant through vLLM on port 8001.",
    "Hello! How can I help you today?",
    "The weather is sunny and warm, with a light breeze from the west.",
    "Please list the files in the current directory and explain each one.",
    "A systemd user unit owns the port and restarts the server when it fails.",
    "Numbers: 0 1 2 3 4 5 6 7 8 9 10 42 100 2024.",
    "def add(a, b):\n    return a + b\n",
    '{"name": "get_weather", "arguments": {"city": "Paris"}}',
    "You are a helpful assistant. Answer briefly and clearly.",
]

CHAT_TEMPLATE = (
    "{%- if tools %}"
    "{{- '<|im_start|>system\\n' }}"
    "{%- if messages[0]['role'] == 'system' %}{{- messages[0]['content'] + '\\n\\n' }}{%- endif %}"
    "{{- '# Tools\\n\\n<tools>' }}"
    "{%- for tool in tools %}{{- '\\n' + (tool | tojson) }}{%- endfor %}"
    "{{- '\\n</tools>\\n\\nFor each function call, return a json object with function name and "
    "arguments within <tool_call></tool_call> XML tags.<|im_end|>\\n' }}"
    "{%- elif messages[0]['role'] == 'system' %}"
    "{{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- for message in messages %}"
    "{%- if message['role'] == 'system' %}"
    "{%- elif message['role'] == 'assistant' and message.get('tool_calls') %}"
    "{{- '<|im_start|>assistant\\n' }}"
    "{%- if message['content'] %}{{- message['content'] }}{%- endif %}"
    "{%- for tc in message['tool_calls'] %}"
    "{%- set f = tc['function'] if tc.get('function') else tc %}"
    "{{- '\\n<tool_call>\\n{\"name\": \"' + f['name'] + '\", \"arguments\": ' }}"
    "{%- if f['arguments'] is string %}{{- f['arguments'] }}{%- else %}{{- f['arguments'] | tojson }}{%- endif %}"
    "{{- '}\\n</tool_call>' }}"
    "{%- endfor %}"
    "{{- '<|im_end|>\\n' }}"
    "{%- elif message['role'] == 'tool' %}"
    "{{- '<|im_start|>user\\n<tool_response>\\n' + message['content'] + '\\n</tool_response><|im_end|>\\n' }}"
    "{%- else %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + (message['content'] or '') + '<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)


def build_tokenizer() -> Tokenizer:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=BPE_VOCAB,
        min_frequency=1,
        special_tokens=SPECIAL,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(CORPUS, trainer=trainer)
    tok.add_tokens(ADDED)
    return tok


def awq_pack(values: np.ndarray) -> np.ndarray:
    """Pack uint4 values [R, N] into int32 [R, N/8] in AWQ's interleaved order."""
    rows, cols = values.shape
    assert cols % 8 == 0
    v = values.astype(np.uint32).reshape(rows, cols // 8, 8)
    packed = np.zeros((rows, cols // 8), dtype=np.uint32)
    for i, col in enumerate(AWQ_ORDER):
        packed |= v[:, :, col] << np.uint32(BITS * i)
    return packed.view(np.int32)


def awq_quantize(w_fp: np.ndarray) -> dict[str, np.ndarray]:
    """Asymmetric 4-bit group quantization of W [out, in] (torch layout) to AWQ GEMM."""
    w = w_fp.T.astype(np.float32)  # [in, out]
    k, n = w.shape
    assert k % GROUP_SIZE == 0 and n % 8 == 0
    g = w.reshape(k // GROUP_SIZE, GROUP_SIZE, n)
    wmin = np.minimum(g.min(axis=1), 0.0)
    wmax = np.maximum(g.max(axis=1), 0.0)
    qmax = 2**BITS - 1
    scales = np.maximum((wmax - wmin) / qmax, 1e-5).astype(np.float16)
    s32 = scales.astype(np.float32)
    zeros = np.clip(np.round(-wmin / s32), 0, qmax).astype(np.uint32)  # [K/G, N]
    q = np.clip(np.round(g / s32[:, None, :]) + zeros[:, None, :], 0, qmax)
    q = q.astype(np.uint32).reshape(k, n)
    return {"qweight": awq_pack(q), "qzeros": awq_pack(zeros), "scales": scales}


def build_weights(rng: np.random.Generator, vocab: int) -> dict[str, np.ndarray]:
    def normal(*shape: int, std: float) -> np.ndarray:
        return rng.normal(0.0, std, size=shape).astype(np.float32)

    t: dict[str, np.ndarray] = {}
    t["model.embed_tokens.weight"] = normal(vocab, HIDDEN, std=1.0).astype(np.float16)
    linears = {
        "self_attn.q_proj": (HEADS * HEAD_DIM, HIDDEN),
        "self_attn.k_proj": (KV_HEADS * HEAD_DIM, HIDDEN),
        "self_attn.v_proj": (KV_HEADS * HEAD_DIM, HIDDEN),
        "self_attn.o_proj": (HIDDEN, HEADS * HEAD_DIM),
        "mlp.gate_proj": (INTERMEDIATE, HIDDEN),
        "mlp.up_proj": (INTERMEDIATE, HIDDEN),
        "mlp.down_proj": (HIDDEN, INTERMEDIATE),
    }
    for layer in range(LAYERS):
        p = f"model.layers.{layer}"
        t[f"{p}.input_layernorm.weight"] = np.ones(HIDDEN, dtype=np.float16)
        t[f"{p}.post_attention_layernorm.weight"] = np.ones(HIDDEN, dtype=np.float16)
        for name, (out_f, in_f) in linears.items():
            w = normal(out_f, in_f, std=1.0 / np.sqrt(in_f))
            for suffix, arr in awq_quantize(w).items():
                t[f"{p}.{name}.{suffix}"] = arr
    t["model.norm.weight"] = np.ones(HIDDEN, dtype=np.float16)
    t["lm_head.weight"] = normal(vocab, HIDDEN, std=1.0 / np.sqrt(HIDDEN)).astype(np.float16)
    return {k: np.ascontiguousarray(v) for k, v in sorted(t.items())}


def settle(tmp: str, path: str) -> None:
    """Move ``tmp`` to ``path``, unless ``path`` already holds the same bytes: then keep it as
    it is (mtime included) and drop ``tmp``."""
    if os.path.isfile(path) and os.path.getsize(path) == os.path.getsize(tmp):
        with open(path, "rb") as old, open(tmp, "rb") as new:
            if old.read() == new.read():
                os.unlink(tmp)
                return
    os.replace(tmp, path)


def write_json(path: str, obj: dict) -> None:
    with open(path + ".tmp", "w", encoding="utf-8") as fh:
        json.dump(obj, fh, indent=2, sort_keys=True)
        fh.write("\n")
    settle(path + ".tmp", path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("outdir")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--fault-intermediate-size", type=int, default=None, metavar="N",
                    help="write N as config.json's intermediate_size, tensors unchanged (a model "
                         "the AWQ checks accept and vLLM cannot load)")
    args = ap.parse_args(argv)
    os.makedirs(args.outdir, exist_ok=True)

    tok = build_tokenizer()
    vocab = tok.get_vocab_size(with_added_tokens=True)
    ids = {s: tok.token_to_id(s) for s in SPECIAL + ADDED}
    tokenizer_path = os.path.join(args.outdir, "tokenizer.json")
    tok.save(tokenizer_path + ".tmp")
    settle(tokenizer_path + ".tmp", tokenizer_path)

    added_decoder = {
        str(ids[s]): {
            "content": s,
            "lstrip": False,
            "normalized": False,
            "rstrip": False,
            "single_word": False,
            "special": s in SPECIAL,
        }
        for s in SPECIAL + ADDED
    }
    write_json(
        os.path.join(args.outdir, "tokenizer_config.json"),
        {
            "tokenizer_class": "PreTrainedTokenizerFast",
            "bos_token": BOS,
            "eos_token": IM_END,
            "pad_token": PAD,
            "unk_token": None,
            "add_bos_token": False,
            "add_eos_token": False,
            "clean_up_tokenization_spaces": False,
            "model_max_length": MAX_POS,
            "added_tokens_decoder": added_decoder,
            "additional_special_tokens": [IM_START, IM_END],
            "chat_template": CHAT_TEMPLATE,
        },
    )
    write_json(
        os.path.join(args.outdir, "special_tokens_map.json"),
        {"bos_token": BOS, "eos_token": IM_END, "pad_token": PAD,
         "additional_special_tokens": [IM_START, IM_END]},
    )
    write_json(
        os.path.join(args.outdir, "generation_config.json"),
        {
            "bos_token_id": ids[BOS],
            "eos_token_id": [ids[IM_END], ids[EOS]],
            "pad_token_id": ids[PAD],
            "do_sample": False,
        },
    )
    write_json(
        os.path.join(args.outdir, "config.json"),
        {
            "architectures": ["LlamaForCausalLM"],
            "model_type": "llama",
            "hidden_size": HIDDEN,
            "intermediate_size": args.fault_intermediate_size or INTERMEDIATE,
            "num_hidden_layers": LAYERS,
            "num_attention_heads": HEADS,
            "num_key_value_heads": KV_HEADS,
            "head_dim": HEAD_DIM,
            "hidden_act": "silu",
            "max_position_embeddings": MAX_POS,
            "rms_norm_eps": 1e-5,
            "rope_theta": 10000.0,
            "attention_bias": False,
            "mlp_bias": False,
            "tie_word_embeddings": False,
            "vocab_size": vocab,
            "bos_token_id": ids[BOS],
            "eos_token_id": ids[IM_END],
            "pad_token_id": ids[PAD],
            "torch_dtype": "float16",
            "quantization_config": {
                "quant_method": "awq",
                "bits": BITS,
                "group_size": GROUP_SIZE,
                "zero_point": True,
                "version": "gemm",
            },
        },
    )

    rng = np.random.default_rng(args.seed)
    weights = build_weights(rng, vocab)
    weights_path = os.path.join(args.outdir, "model.safetensors")
    save_file(weights, weights_path + ".tmp", metadata={"format": "pt"})
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(weights_path + ".tmp", 0o666 & ~umask)  # safetensors creates it 0600
    settle(weights_path + ".tmp", weights_path)

    size = sum(os.path.getsize(os.path.join(args.outdir, f)) for f in os.listdir(args.outdir))
    print(f"wrote {args.outdir}: vocab {vocab}, {len(weights)} tensors, {size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
