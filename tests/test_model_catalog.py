import json
import shutil
from importlib.resources import files

import pytest

from afdscope.catalog.model_catalog import PAPER_MODELS, list_models, load_model
from afdscope.errors import AfdscopeError

CATALOG_DIR = files("afdscope.catalog").joinpath("models")


def test_every_short_name_loads_case_insensitively():
    assert set(PAPER_MODELS) <= set(list_models())
    assert len(list_models()) == 14
    for name in list_models():
        m = load_model(name)
        assert m.name == name
        assert load_model(name.upper()) == m
        assert m.n_dense_layers + m.n_moe_layers == m.num_layers


# paper-model.md §8: H, dense layers, MoE layers, N_exp, K, M
PAPER_TABLE = {
    "deepseek-v3": (7168, 3, 58, 256, 8, 2048),
    "kimi-k2": (7168, 1, 60, 384, 8, 2048),
    "step3": (7168, 5, 56, 48, 3, 5120),
    "qwen3-coder-480b": (6144, 0, 62, 160, 8, 2560),
    "ernie-4.5-300b": (8192, 3, 51, 64, 8, 3584),
    "glm-4.7": (5120, 3, 89, 160, 8, 1536),
}


@pytest.mark.parametrize("name", PAPER_MODELS)
def test_paper_table(name):
    m = load_model(name)
    got = (m.hidden_size, m.n_dense_layers, m.n_moe_layers, m.n_routed_experts, m.top_k)
    assert (*got, m.moe_intermediate_size) == PAPER_TABLE[name]


# Published total / active parameters (SOURCES.md). Publishers count the vocabulary matrices differently
# for "active": "head" = LM head but not the embedding lookup (`active_params`; gpt-oss's card: 5.13B),
# "all" = embedding too (Qwen, Meta), "none" = neither (GLM, and GLM-4.5-Air's 12B checks the same way).
PUBLISHED = {
    "deepseek-v3": (671e9, 37e9, "head"),
    "kimi-k2": (1.04e12, 32e9, "head"),
    "step3": (316e9, 38e9, "head"),
    "qwen3-235b": (235e9, 22e9, "all"),
    "qwen3-coder-480b": (480e9, 35e9, "all"),
    "ernie-4.5-300b": (300e9, 47e9, "head"),
    "glm-4.5": (355e9, 32e9, "none"),
    "mixtral-8x22b": (141e9, 39e9, "head"),
    "llama-4-maverick": (400e9, 17e9, "all"),
    "gpt-oss-120b": (117e9, 5.1e9, "head"),
    "minimax-m2": (230e9, 10e9, "none"),
}
# MiniMax-M2's "10B" is a rounding of 9.80B: no convention lands within 1.5 % (non-embedding -2.0 %,
# with the LM head +4.1 %), so it alone gets a wider band.
ACTIVE_TOLERANCE = {"minimax-m2": 0.025}


@pytest.mark.parametrize("name", PUBLISHED)
def test_total_and_active_params_match_published(name):
    m = load_model(name)
    total, active, convention = PUBLISHED[name]
    got = {
        "head": m.active_params,
        "all": m.active_params + m.embedding_params,
        "none": m.active_non_embedding_params,
    }[convention]
    assert m.total_params == pytest.approx(total, rel=0.015)
    assert got == pytest.approx(active, rel=ACTIVE_TOLERANCE.get(name, 0.015))


def test_deepseek_v3_parameter_breakdown():
    m = load_model("deepseek-v3")
    assert m.routed_expert_params == 3 * 7168 * 2048
    assert m.shared_expert_params_per_layer == 3 * 7168 * 2048
    assert m.dense_mlp_params_per_layer == 3 * 7168 * 18432
    assert m.attention_params_per_layer == (
        7168 * 1536 + 1536 * 128 * 192 + 7168 * 576 + 512 * 128 * 256 + 128 * 128 * 7168
    )
    assert m.embedding_params == m.lm_head_params == 129280 * 7168
    assert m.mtp_layers == 1 and 11e9 < m.mtp_params < 12.5e9  # the "14B" MTP also stores emb + head
    assert load_model("ernie-4.5-300b").lm_head_params == 0  # tied


KV_BF16 = {
    "deepseek-v3": 70_272,
    "kimi-k2": 70_272,
    "step3": 62_464,
    "qwen3-235b": 192_512,
    "qwen3-coder-480b": 253_952,
    "ernie-4.5-300b": 221_184,
    "glm-4.5": 376_832,
    "mixtral-8x22b": 229_376,
}


@pytest.mark.parametrize("name", KV_BF16)
def test_kv_bytes_per_token(name):
    m = load_model(name)
    assert m.kv_bytes_per_token() == KV_BF16[name]
    if m.attention.kind == "mla":  # FlashMLA's FP8 cache: 656 of the BF16 1,152 B per token and layer
        assert m.kv_bytes_per_token(1) == KV_BF16[name] * 656 / 1152
    else:
        assert m.kv_bytes_per_token(1) == KV_BF16[name] / 2


def test_attention_kinds():
    assert load_model("deepseek-v3").attention.kv_elements_per_token_layer() == 576
    step3 = load_model("step3").attention
    assert (step3.kind, step3.num_kv_heads, step3.head_dim, step3.share_q_dim) == ("mfa", 1, 256, 2048)
    assert load_model("qwen3-235b").attention.kind == "gqa"


@pytest.mark.parametrize(
    ("name", "report_bytes"), [("step3", 2.56e8), ("deepseek-v3", 2.88e8), ("qwen3-235b", 7.89e8)]
)
def test_step3_report_kv_at_8k_fp8(name, report_bytes):
    # Step-3 report: KV per request at 8K context, FP8 (MFA vs MLA vs GQA), counting elements × 1 B.
    m = load_model(name)
    elements = 8192 * m.num_layers * m.attention.kv_elements_per_token_layer()
    assert elements == pytest.approx(report_bytes, rel=0.005)
    if m.attention.kind == "mla":
        # As FlashMLA stores an FP8 cache: + FP32 scales per 128 latent values, RoPE kept in BF16.
        assert m.kv_bytes_per_token(1) == m.num_layers * 656
    else:
        assert 8192 * m.kv_bytes_per_token(1) == elements


def test_windows_and_layer_patterns():
    oss = load_model("gpt-oss-120b").attention
    assert oss.layer_windows == (128, None) * 18 and oss.sliding_window == 128
    llama = load_model("llama-4-maverick")
    assert llama.moe_layers == tuple(range(1, 48, 2))
    assert llama.dense_intermediate_size == 16384 and llama.n_shared_experts == 1
    assert llama.attention.layer_windows == (8192, 8192, 8192, None) * 12
    assert load_model("deepseek-v3").attention.layer_windows == (None,) * 61
    assert load_model("step3").moe_layers == tuple(range(4, 60))
    assert load_model("minimax-m2").mtp_layers == 3


def _write(tmp_path, cfg, name="config.json"):
    path = tmp_path / name
    path.write_text(json.dumps(cfg))
    return str(path)


def _deepseek():
    return json.loads(CATALOG_DIR.joinpath("deepseek-ai--DeepSeek-V3.json").read_text())


def test_user_config_path_loads(tmp_path):
    src = CATALOG_DIR.joinpath("Qwen--Qwen3-235B-A22B.json")
    dst = tmp_path / "my-qwen" / "config.json"
    dst.parent.mkdir()
    shutil.copyfile(str(src), dst)
    m = load_model(str(dst))
    assert m.name == "my-qwen" and m.source == str(dst)
    assert m.total_params == load_model("qwen3-235b").total_params
    assert load_model(str(dst.parent)) == m  # the model folder works too
    # the aiconfigurator extracts are catalog files without a short name
    glm = load_model(str(CATALOG_DIR.joinpath("zai-org--GLM-4.7-FP8.aiconfigurator.json")))
    assert glm.n_moe_layers == 89 and glm.mtp_layers == 0


def test_unknown_name():
    # a typo names the nearest model, not the whole list
    with pytest.raises(
        AfdscopeError, match=r"unknown model 'deepseek-v9'; did you mean deepseek-v3\?"
    ) as info:
        load_model("deepseek-v9")
    assert "kimi-k2" not in str(info.value) and "config.json" in str(info.value)
    # nothing close: the whole list
    with pytest.raises(
        AfdscopeError, match="unknown model 'falcon'; known: deepseek-v3, .*kimi-k2.*config.json"
    ):
        load_model("falcon")
    with pytest.raises(AfdscopeError, match="no such file"):
        load_model("/nonexistent/config.json")


def test_invalid_json(tmp_path):
    path = tmp_path / "config.json"
    path.write_text('{\n  "hidden_size": 7168,\n  oops\n}')
    with pytest.raises(AfdscopeError, match=r"config.json: invalid JSON at line 3, column 3"):
        load_model(str(path))


def test_dense_config_is_not_moe(tmp_path):
    llama = {
        "model_type": "llama",
        "hidden_size": 4096,
        "intermediate_size": 14336,
        "num_hidden_layers": 32,
        "num_attention_heads": 32,
        "num_key_value_heads": 8,
        "vocab_size": 128256,
    }
    with pytest.raises(AfdscopeError, match="not a MoE model.*n_routed_experts, num_local_experts"):
        load_model(_write(tmp_path, llama))


def test_missing_expert_count(tmp_path):
    cfg = _deepseek()
    del cfg["n_routed_experts"]
    msg = "no routed-expert count; expected one of n_routed_experts, num_local_experts, num_experts"
    with pytest.raises(AfdscopeError, match=msg):
        load_model(_write(tmp_path, cfg))


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("hidden_size", 0, "hidden_size = 0; it must be a positive integer"),
        ("num_experts_per_tok", -1, "num_experts_per_tok = -1"),
        ("num_experts_per_tok", 300, "top_k 300 exceeds n_routed_experts 256"),
        ("moe_intermediate_size", "2048", "moe_intermediate_size = '2048'"),
        ("n_routed_experts", 0, "not a MoE model"),
    ],
)
def test_bad_values(tmp_path, field, value, match):
    cfg = _deepseek()
    cfg[field] = value
    with pytest.raises(AfdscopeError, match=match) as err:
        load_model(_write(tmp_path, cfg))
    assert "\n" not in str(err.value)
