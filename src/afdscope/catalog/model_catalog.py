"""Hugging Face config.json files -> `MoEModel`.

Each model family names the same facts differently (expert count, top-k, which layers are MoE, shared
experts, windows); the readers below try the known spellings in order. Every bad input becomes one
`AfdscopeError` line that names the file, the field and the fix.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from afdscope.catalog.names import close_names, unknown_name_hint
from afdscope.errors import AfdscopeError
from afdscope.specs.model import AttentionSpec, MoEModel

# short name -> (file in catalog/models, display name)
_CATALOG: dict[str, tuple[str, str]] = {
    "deepseek-v3": ("deepseek-ai--DeepSeek-V3.json", "DeepSeek-V3"),
    "deepseek-r1": ("deepseek-ai--DeepSeek-R1.json", "DeepSeek-R1"),
    "deepseek-v3.2": ("deepseek-ai--DeepSeek-V3.2.json", "DeepSeek-V3.2"),
    "kimi-k2": ("moonshotai--Kimi-K2-Instruct.json", "Kimi-K2"),
    "step3": ("stepfun-ai--step3.text_config.json", "Step3"),
    "qwen3-235b": ("Qwen--Qwen3-235B-A22B.json", "Qwen3-235B-A22B"),
    "qwen3-coder-480b": ("Qwen--Qwen3-Coder-480B-A35B-Instruct.json", "Qwen3-Coder-480B-A35B"),
    "ernie-4.5-300b": ("baidu--ERNIE-4.5-300B-A47B.json", "ERNIE-4.5-300B-A47B"),
    "glm-4.5": ("zai-org--GLM-4.5.json", "GLM-4.5"),
    "glm-4.7": ("zai-org--GLM-4.6_GLM-4.7.json", "GLM-4.7"),
    "mixtral-8x22b": ("mistralai--Mixtral-8x22B-v0.1.json", "Mixtral-8x22B"),
    "llama-4-maverick": ("meta-llama--Llama-4-Maverick-17B-128E-Instruct.json", "Llama-4-Maverick"),
    "gpt-oss-120b": ("openai--gpt-oss-120b.json", "gpt-oss-120b"),
    "minimax-m2": ("MiniMaxAI--MiniMax-M2.json", "MiniMax-M2"),
}

# Hugging Face repos whose config is a catalog file under another id than its file name spells.
_EXTRA_HF_IDS: dict[str, str] = {"baidu/ERNIE-4.5-300B-A47B-PT": "ernie-4.5-300b"}


def _hf_ids(file: str) -> list[str]:
    """The Hugging Face ids a catalog file carries in its name: 'org--name.json' → ['org/name'];
    'zai-org--GLM-4.6_GLM-4.7.json' (one config, two releases) → both; a '.text_config' part is dropped."""
    org, _, rest = file.removesuffix(".json").removesuffix(".text_config").partition("--")
    return [f"{org}/{name}" for name in rest.split("_")]


# Hugging Face id, lower-cased -> (catalog short name, the id as Hugging Face spells it)
HF_ALIASES: dict[str, tuple[str, str]] = {
    hf.lower(): (key, hf)
    for key, (file, _) in _CATALOG.items()
    for hf in [*_hf_ids(file), *(h for h, k in _EXTRA_HF_IDS.items() if k == key)]
}

PAPER_MODELS = ("deepseek-v3", "kimi-k2", "step3", "qwen3-coder-480b", "ernie-4.5-300b", "glm-4.7")

_EXPERT_KEYS = ("n_routed_experts", "num_local_experts", "num_experts", "moe_num_experts")
_TOPK_KEYS = ("num_experts_per_tok", "experts_per_token", "moe_k", "moe_top_k")
# Keys that only MoE configs carry: with one of them but no expert count the file is broken, not dense.
_MOE_HINTS = _TOPK_KEYS + ("moe_intermediate_size", "first_k_dense_replace", "moe_layers_enum")


def list_models() -> list[str]:
    return list(_CATALOG)


def hf_ids() -> list[str]:
    """The Hugging Face ids accepted as aliases of catalog models (e.g. 'deepseek-ai/DeepSeek-V3')."""
    return [hf for _, hf in HF_ALIASES.values()]


def load_model(name_or_path: str | Path | MoEModel) -> MoEModel:
    """A `MoEModel` from a catalog short name, a Hugging Face id of a catalog model, a path, or a spec.

    * a catalog short name ('deepseek-v3'), case-insensitive;
    * a path to a Hugging Face config.json, or to a folder holding one;
    * the Hugging Face id of a catalog model ('deepseek-ai/DeepSeek-V3', 'Qwen/Qwen3-235B-A22B'),
      case-insensitive: `hf_ids()` lists them;
    * a `MoEModel`, returned as it is (so callers may pass names and specs alike).

    Ambiguity: a short name never contains '/', so only an id and a path can collide ('Qwen/Qwen3-235B-A22B'
    may also be a folder you downloaded). An existing path wins, because it is what is on your disk;
    otherwise the id is the catalog model. Anything else raises `AfdscopeError` naming the nearest known
    names ("did you mean deepseek-v3?"), or all of them when none is close.
    """
    if isinstance(name_or_path, MoEModel):
        return name_or_path
    if not isinstance(name_or_path, str | Path):
        raise AfdscopeError(
            f"model = {name_or_path!r} ({type(name_or_path).__name__}): pass a catalog name such as "
            "'deepseek-v3', a path to a config.json, or a MoEModel"
        )
    name_or_path = str(name_or_path)
    key = name_or_path.strip().lower()
    if key in _CATALOG:
        return _load_catalog(key)
    path = Path(name_or_path).expanduser()
    if path.is_dir() and (path / "config.json").is_file():
        path = path / "config.json"
    if path.is_file():
        path = path.resolve()
        return _load_path(str(path), path.stat().st_mtime_ns)
    if key in HF_ALIASES:
        return _load_catalog(HF_ALIASES[key][0])
    if path.suffix == ".json" or "/" in name_or_path or "\\" in name_or_path:
        # 'org/name' reads as a Hugging Face id; './x', '/abs/x' and '*.json' read as paths only.
        hf_like = re.fullmatch(r"[A-Za-z0-9][\w.-]*/[\w.-]+", name_or_path) and path.suffix != ".json"
        near = close_names(name_or_path, hf_ids()) if hf_like else []
        fix = (
            f"did you mean {' or '.join(near)}? (or pass an existing config.json)"
            if near
            else f"pass an existing config.json or one of: {', '.join(_CATALOG)}"
        )
        what = "no such file"
        if hf_like:
            what += ", nor the Hugging Face id of a catalog model"
        raise AfdscopeError(f"{name_or_path}: {what}; {fix}")
    raise AfdscopeError(
        f"unknown model '{name_or_path}'; {unknown_name_hint(name_or_path, _CATALOG)} "
        "(a path to a config.json works too)"
    )


@lru_cache(maxsize=32)
def _load_catalog(key: str) -> MoEModel:
    file, display = _CATALOG[key]
    resource = files("afdscope.catalog").joinpath("models", file)
    text = resource.read_text(encoding="utf-8")
    return _build(_parse(text, file), where=file, name=key, display=display, source=str(resource))


@lru_cache(maxsize=64)
def _load_path(path: str, mtime_ns: int) -> MoEModel:  # mtime in the key: an edited file is re-read
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise AfdscopeError(f"{path}: cannot read ({e}); pass a readable UTF-8 config.json") from None
    p = Path(path)
    stem = p.parent.name if p.name == "config.json" and p.parent.name else p.stem  # .../<model>/config.json
    return _build(_parse(text, path), where=path, name=stem, display=stem, source=path)


def _parse(text: str, where: str) -> dict[str, Any]:
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as e:
        raise AfdscopeError(
            f"{where}: invalid JSON at line {e.lineno}, column {e.colno} ({e.msg}); fix the file"
        ) from None
    if not isinstance(raw, dict):
        raise AfdscopeError(f"{where}: top level is not a JSON object; expected a Hugging Face config.json")
    return raw


class _Reader:
    """Typed access to one config dict; every failure names the file and the key."""

    def __init__(self, cfg: dict[str, Any], where: str):
        self.cfg, self.where = cfg, where

    def fail(self, msg: str) -> AfdscopeError:
        return AfdscopeError(f"{self.where}: {msg}")

    def key(self, keys: tuple[str, ...]) -> str | None:
        return next((k for k in keys if self.cfg.get(k) is not None), None)

    def num(
        self,
        keys: str | tuple[str, ...],
        what: str,
        default: int | None = None,
        minimum: int = 1,
        maximum: int = 10**7,
    ) -> int:
        keys = (keys,) if isinstance(keys, str) else keys
        k = self.key(keys)
        if k is None:
            if default is not None:
                return default
            raise self.fail(f"no {what}; expected one of {', '.join(keys)}")
        v = self.cfg[k]
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        if not isinstance(v, int) or isinstance(v, bool) or v < minimum:
            need = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
            raise self.fail(f"{k} = {v!r}; it must be {need}")
        # No real model comes near these; a typo must not make the loader build a billion-layer table.
        if v > maximum:
            raise self.fail(f"{k} = {v!r}; that is beyond any real model (at most {maximum:,})")
        return v

    def opt(self, key: str) -> int | None:
        return self.num(key, key) if self.cfg.get(key) is not None else None


def _build(raw: dict[str, Any], *, where: str, name: str, display: str, source: str) -> MoEModel:
    try:
        return _read(raw, where=where, name=name, display=display, source=source)
    except AfdscopeError:
        raise
    except (TypeError, ValueError, KeyError, AttributeError) as e:  # a field of an unexpected type
        raise AfdscopeError(
            f"{where}: malformed config ({type(e).__name__}: {e}); check the field types"
        ) from None


def _read(raw: dict[str, Any], *, where: str, name: str, display: str, source: str) -> MoEModel:
    # Multimodal configs (Llama-4, Step3) keep the language model in text_config.
    cfg = raw["text_config"] if isinstance(raw.get("text_config"), dict) else raw
    r = _Reader(cfg, where)
    model_type = str(cfg.get("model_type") or raw.get("model_type") or "unknown")

    if r.key(_EXPERT_KEYS) is None:
        if r.key(_MOE_HINTS) is None:
            raise r.fail(
                f"not a MoE model (no routed-expert count; expected one of {', '.join(_EXPERT_KEYS)}); "
                "afdscope models MoE decoders only"
            )
        raise r.fail(f"no routed-expert count; expected one of {', '.join(_EXPERT_KEYS)}")
    n_experts = r.num(_EXPERT_KEYS, "routed-expert count", minimum=0, maximum=1 << 16)
    if n_experts == 0:
        raise r.fail(f"{r.key(_EXPERT_KEYS)} = 0: not a MoE model; afdscope models MoE decoders only")

    hidden = r.num("hidden_size", "hidden size")
    layers = r.num("num_hidden_layers", "layer count", maximum=4096)
    llama4 = model_type.startswith("llama4")
    # Expert size: moe_intermediate_size where the config has one; else intermediate_size is the
    # expert size (Mixtral, MiniMax, gpt-oss, Llama-4) and dense layers, if any, use intermediate_size_mlp.
    if r.key(("moe_intermediate_size",)):
        expert_size = r.num("moe_intermediate_size", "expert size")
        dense_size = r.num("intermediate_size", "dense MLP size", default=0, minimum=0)
    else:
        expert_size = r.num(("moe_intermediate_size", "intermediate_size"), "expert size")
        dense_size = r.num("intermediate_size_mlp", "dense MLP size", default=0, minimum=0)

    n_shared, shared_size = _shared_experts(r, expert_size, llama4)
    moe_layers = _moe_layers(r, layers)
    if not moe_layers:
        raise r.fail("the MoE-layer fields select no layer; not a MoE model")
    if len(moe_layers) == layers:
        dense_size = 0  # unused; keeps the spec from implying dense layers

    mtp = r.num(
        ("num_nextn_predict_layers", "num_mtp_modules"), "MTP layers", default=0, minimum=0, maximum=64
    )
    mtp *= r.num("mtp_transformer_layers", "MTP layers per module", default=1, minimum=0, maximum=64)

    try:
        return MoEModel(
            name=name,
            display_name=display,
            source=source,
            model_type=model_type,
            hidden_size=hidden,
            vocab_size=r.num("vocab_size", "vocabulary size"),
            tie_word_embeddings=bool(cfg.get("tie_word_embeddings", raw.get("tie_word_embeddings", False))),
            num_layers=layers,
            moe_layers=moe_layers,
            n_routed_experts=n_experts,
            top_k=r.num(_TOPK_KEYS, "top-k (experts per token)"),
            moe_intermediate_size=expert_size,
            n_shared_experts=n_shared,
            shared_intermediate_size=shared_size,
            dense_intermediate_size=dense_size,
            n_group=r.opt("n_group"),
            topk_group=r.opt("topk_group"),
            mtp_layers=mtp,
            attention=_attention(r, hidden, layers, model_type),
        )
    except ValidationError as e:
        msgs = "; ".join(_pydantic_msg(err) for err in e.errors())
        raise r.fail(f"inconsistent config ({msgs}); fix these fields") from None


def _pydantic_msg(err: Any) -> str:
    msg = err["msg"].removeprefix("Value error, ")
    return f"{'.'.join(map(str, err['loc']))}: {msg}" if err["loc"] else msg


def _shared_experts(r: _Reader, expert_size: int, llama4: bool) -> tuple[int, int]:
    """(count, intermediate size of one). Counted configs (DeepSeek, GLM, ERNIE) give shared experts of
    the routed size; sized configs (Qwen, MiniMax, Step3) give one expert of that size, 0 meaning none."""
    count = r.num(("n_shared_experts", "moe_num_shared_experts"), "shared experts", default=0, minimum=0)
    if count:
        return count, expert_size
    size_keys = ("shared_expert_intermediate_size", "shared_intermediate_size", "share_expert_dim")
    size = r.num(size_keys, "shared expert size", default=0, minimum=0)
    if size:
        return 1, size
    if llama4:  # Llama-4 MoE layers always add one shared expert of the routed size
        return 1, expert_size
    return 0, 0


def _moe_layers(r: _Reader, layers: int) -> tuple[int, ...]:
    cfg = r.cfg
    if cfg.get("moe_layers_enum") is not None:  # Step3: explicit list (or "4,5,..." string)
        enum = cfg["moe_layers_enum"]
        items = enum.split(",") if isinstance(enum, str) else enum
        try:
            idx = sorted({int(i) for i in items})
        except (TypeError, ValueError):
            raise r.fail(f"moe_layers_enum = {enum!r}; expected a list of layer indices") from None
        if idx and not 0 <= idx[0] <= idx[-1] < layers:
            raise r.fail(f"moe_layers_enum has indices outside 0..{layers - 1}; fix the list")
        return tuple(idx)
    if r.key(("moe_layer_start_index", "moe_layer_end_index", "moe_layer_interval")):  # ERNIE
        start, end = cfg.get("moe_layer_start_index", 0), cfg.get("moe_layer_end_index", -1)
        start = min(start) if isinstance(start, list) else start  # ERNIE-VL gives one per modality
        end = max(end) if isinstance(end, list) else end
        if not isinstance(start, int) or not isinstance(end, int):
            raise r.fail("moe_layer_start_index / moe_layer_end_index must be integers")
        end = layers - 1 if end < 0 else end
        step = r.num("moe_layer_interval", "MoE layer interval", default=1)
        return tuple(i for i in range(layers) if start <= i <= end and (i + 1) % step == 0)
    if r.key(("first_k_dense_replace", "moe_layer_freq")):  # DeepSeek, Kimi, GLM
        first = r.num("first_k_dense_replace", "dense-layer count", default=0, minimum=0)
        freq = r.num("moe_layer_freq", "MoE layer frequency", default=1)
        return tuple(i for i in range(first, layers) if i % freq == 0)
    if r.key(("interleave_moe_layer_step",)):  # Llama-4: layers step-1, 2*step-1, ...
        step = r.num("interleave_moe_layer_step", "MoE layer step")
        return tuple(range(step - 1, layers, step))
    if r.key(("decoder_sparse_step", "mlp_only_layers")):  # Qwen
        step = r.num("decoder_sparse_step", "MoE layer step", default=1)
        dense = cfg.get("mlp_only_layers") or []
        if not isinstance(dense, list):
            raise r.fail(f"mlp_only_layers = {dense!r}; expected a list of layer indices")
        return tuple(i for i in range(layers) if i not in dense and (i + 1) % step == 0)
    return tuple(range(layers))  # Mixtral, gpt-oss, MiniMax: every layer


def _attention(r: _Reader, hidden: int, layers: int, model_type: str) -> AttentionSpec:
    cfg = r.cfg
    heads = r.num("num_attention_heads", "attention head count")
    windows = _layer_windows(r, layers)
    window = next((w for w in windows if w is not None), None)
    common = {"num_q_heads": heads, "sliding_window": window, "layer_windows": windows}
    if cfg.get("attn_type_list") and 0 in cfg["attn_type_list"]:  # MiniMax-01 style lightning attention
        raise r.fail("attn_type_list has linear-attention layers (0); only softmax attention is modelled")
    if cfg.get("kv_lora_rank") is not None:
        nope, rope = r.num("qk_nope_head_dim", "MLA nope dim"), r.num("qk_rope_head_dim", "MLA rope dim")
        return AttentionSpec(
            kind="mla",
            num_kv_heads=1,
            head_dim=nope + rope,
            q_lora_rank=r.opt("q_lora_rank"),
            kv_lora_rank=r.num("kv_lora_rank", "MLA kv_lora_rank"),
            qk_nope_head_dim=nope,
            qk_rope_head_dim=rope,
            v_head_dim=r.num("v_head_dim", "MLA v_head_dim"),
            **common,
        )
    head_dim = r.num("head_dim", "head dim", default=hidden // heads)
    if cfg.get("share_q_dim") is not None or model_type.startswith("step3"):
        return AttentionSpec(
            kind="mfa",
            num_kv_heads=r.num(("num_attention_groups", "num_key_value_heads"), "KV heads", default=1),
            head_dim=head_dim,
            share_q_dim=r.opt("share_q_dim"),
            **common,
        )
    kv = r.num("num_key_value_heads", "KV heads", default=heads)  # absent = multi-head attention
    return AttentionSpec(kind="gqa", num_kv_heads=kv, head_dim=head_dim, **common)


def _layer_windows(r: _Reader, layers: int) -> tuple[int | None, ...]:
    """Per layer: the attention window (sliding or chunked), None for full attention."""
    cfg = r.cfg
    types = cfg.get("layer_types")
    if types:  # gpt-oss and newer transformers configs spell it out
        if len(types) != layers:
            raise r.fail(f"layer_types has {len(types)} entries for {layers} layers; fix the list")
        size = {
            "full_attention": lambda: None,
            "sliding_attention": lambda: r.num("sliding_window", "sliding window"),
            "chunked_attention": lambda: r.num("attention_chunk_size", "attention chunk size"),
        }
        if unknown := set(types) - set(size):  # e.g. linear attention: not modelled, so not guessed
            raise r.fail(
                f"layer_types has {', '.join(sorted(map(str, unknown)))}; supported: {', '.join(size)}"
            )
        return tuple(size[t]() for t in types)
    if cfg.get("attention_chunk_size") is not None:  # Llama-4: chunked except every 4th (NoPE) layer
        chunk = r.num("attention_chunk_size", "attention chunk size")
        every = r.num("no_rope_layer_interval", "NoPE layer interval", default=4)
        rope = cfg.get("no_rope_layers") or [int((i + 1) % every != 0) for i in range(layers)]
        if len(rope) != layers:
            raise r.fail(f"no_rope_layers has {len(rope)} entries for {layers} layers; fix the list")
        return tuple(chunk if use_rope else None for use_rope in rope)
    if cfg.get("sliding_window") is not None and cfg.get("use_sliding_window", True):
        window = r.num("sliding_window", "sliding window")
        # Qwen windows layers from max_window_layers on; Mistral-style configs window every layer.
        first = r.num("max_window_layers", "first windowed layer", default=0, minimum=0)
        first = first if "use_sliding_window" in cfg else 0
        return tuple(window if i >= first else None for i in range(layers))
    return (None,) * layers
