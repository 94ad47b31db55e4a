"""Names as users type them (issue 13 §3, §5): typo suggestions, Hugging Face ids as aliases, a user file
named like a catalog device, duplicate prices, and library errors that are always AfdscopeError.

Expected facts come from the model cards and datasheets (DeepSeek-V3: 256 routed experts, top-8;
Qwen3-235B-A22B: 128 experts, top-8; H800 SXM: 1,979 dense FP8 TFLOPS), not from the loaders' output.
"""

import json
import sys
from importlib.resources import files
from pathlib import Path

import pytest

from afdscope.catalog.hardware_catalog import list_hardware, load_hardware
from afdscope.catalog.model_catalog import hf_ids, list_models, load_model
from afdscope.catalog.names import close_names
from afdscope.catalog.prices import parse_prices, price_for
from afdscope.cli import main
from afdscope.errors import AfdscopeError

USER_H800 = """\
name: h800
display_name: My H800 lookalike
datasheet:
  bf16_dense_tflops: 100
  fp8_dense_tflops: 200
  hbm_capacity_gb: 64
  hbm_bandwidth_tb_s: 2.0
  scale_up_bandwidth_gb_s: 300
  scale_up_domain_gpus: 8
  scale_out_bandwidth_gb_s: 25
"""


def cli_error(monkeypatch, capsys, *args: str) -> str:
    """Run the CLI in-process; it must exit 2 with one `error:` line on stderr and nothing on stdout."""
    monkeypatch.setattr(sys, "argv", ["afdscope", *args])
    with pytest.raises(SystemExit) as info:
        main()
    out, err = capsys.readouterr()
    assert info.value.code == 2, err
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def cli_ok(monkeypatch, capsys, *args: str) -> str:
    monkeypatch.setattr(sys, "argv", ["afdscope", *args])
    with pytest.raises(SystemExit) as info:
        main()
    out, err = capsys.readouterr()
    assert info.value.code == 0, err
    return out


# ---- suggestions -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typo", "nearest"),
    [
        ("deepsek-v3", ["deepseek-v3"]),  # one letter dropped
        ("DeepSeek-V3.3", ["deepseek-v3.2"]),
        ("kimi", ["kimi-k2"]),  # a prefix
        ("llama4", ["llama-4-maverick"]),  # a prefix, punctuation ignored
        ("glm4.7", ["glm-4.7"]),
    ],
)
def test_model_typo_names_the_nearest(typo, nearest):
    assert close_names(typo, list_models()) == nearest
    with pytest.raises(AfdscopeError) as info:
        load_model(typo)
    msg = str(info.value)
    assert f"did you mean {nearest[0]}?" in msg
    assert "mixtral-8x22b" not in msg  # not the whole list


@pytest.mark.parametrize(("typo", "nearest"), [("h8000", "h800"), ("H80", "h800"), ("mi300", "mi300x")])
def test_hardware_typo_names_the_nearest(typo, nearest):
    with pytest.raises(AfdscopeError) as info:
        load_hardware(typo)
    msg = str(info.value)
    assert msg.startswith(f"unknown hardware '{typo}'; did you mean {nearest}?")
    assert "ascend-910c" not in msg


def test_nothing_close_gives_the_whole_list():
    assert close_names("hopper", list_hardware()) == []
    with pytest.raises(AfdscopeError) as info:
        load_hardware("hopper")
    assert all(name in str(info.value) for name in list_hardware())
    with pytest.raises(AfdscopeError) as info:
        load_model("falcon")
    assert all(name in str(info.value) for name in list_models())


def test_cli_typos(monkeypatch, capsys):
    line = cli_error(monkeypatch, capsys, "model", "show", "deepsek-v3")
    assert line.startswith("error: unknown model 'deepsek-v3'; did you mean deepseek-v3?")
    line = cli_error(monkeypatch, capsys, "hardware", "show", "h8000")
    assert line.startswith("error: unknown hardware 'h8000'; did you mean h800?")
    args = [
        "--model",
        "deepseek-v3",
        "--hardware",
        "h8000",
        "--gpus",
        "16",
        "--context",
        "4096",
        "--batch-per-gpu",
        "64",
    ]
    line = cli_error(monkeypatch, capsys, "eval", "ep", *args)
    assert "did you mean h800?" in line


# ---- Hugging Face ids --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hf_id", "short", "experts"),
    [
        ("deepseek-ai/DeepSeek-V3", "deepseek-v3", 256),
        ("Qwen/Qwen3-235B-A22B", "qwen3-235b", 128),
        ("qwen/qwen3-235b-a22b", "qwen3-235b", 128),  # case-insensitive
        ("moonshotai/Kimi-K2-Instruct", "kimi-k2", 384),
        ("baidu/ERNIE-4.5-300B-A47B-PT", "ernie-4.5-300b", 64),
    ],
)
def test_hf_id_is_an_alias(hf_id, short, experts):
    m = load_model(hf_id)
    assert m.name == short and m.n_routed_experts == experts and m.top_k == 8
    assert m == load_model(short)


def test_every_catalog_model_has_an_hf_id():
    aliased = {load_model(hf).name for hf in hf_ids()}
    assert aliased == set(list_models())


def test_an_existing_path_wins_over_an_alias(tmp_path, monkeypatch):
    # A downloaded folder spelt like the id holds a different config (DeepSeek-V3's): the file is read.
    folder = tmp_path / "Qwen" / "Qwen3-235B-A22B"
    folder.mkdir(parents=True)
    src = files("afdscope.catalog").joinpath("models", "deepseek-ai--DeepSeek-V3.json")
    (folder / "config.json").write_text(src.read_text(encoding="utf-8"))
    monkeypatch.chdir(tmp_path)
    m = load_model("Qwen/Qwen3-235B-A22B")
    assert m.n_routed_experts == 256  # DeepSeek-V3's, not Qwen's 128
    assert m.source == str((folder / "config.json").resolve())


def test_hf_id_typo(monkeypatch, capsys):
    with pytest.raises(AfdscopeError, match=r"did you mean deepseek-ai/DeepSeek-V3\?"):
        load_model("deepseek-ai/DeepSeek-V4")
    line = cli_error(monkeypatch, capsys, "model", "show", "deepseek-ai/DeepSeek-V4")
    assert "no such file, nor the Hugging Face id of a catalog model" in line


def test_cli_accepts_hf_id(monkeypatch, capsys):
    by_id = cli_ok(monkeypatch, capsys, "model", "show", "Qwen/Qwen3-235B-A22B", "-f", "json")
    by_name = cli_ok(monkeypatch, capsys, "model", "show", "qwen3-235b", "-f", "json")
    assert by_id == by_name and json.loads(by_id)


# ---- a user file named like a catalog device ---------------------------------------------------------


def test_user_file_named_like_catalog_device_is_labelled_by_path(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text(USER_H800)
    mine, catalog = load_hardware(str(path)), load_hardware("h800")
    assert mine.name == str(path) != catalog.name == "h800"
    assert str(path) in mine.display_name
    assert mine.fp8_flops == pytest.approx(200e12) and catalog.fp8_flops == pytest.approx(1979e12)
    path.write_text(USER_H800.replace("name: h800", "name: H800"))  # the clash is case-insensitive too
    assert load_hardware(path).name == str(path)


def test_user_file_with_its_own_name_keeps_it(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text(USER_H800.replace("name: h800", "name: h800-lab"))
    assert load_hardware(str(path)).name == "h800-lab"


def test_cli_price_for_catalog_name_does_not_reach_the_user_file(tmp_path, monkeypatch, capsys):
    path = tmp_path / "mine.yaml"
    path.write_text(USER_H800)
    common = ["search", "--model", "deepseek-v3", "--context", "4096", "--tpot-slo-ms", "50"]
    line = cli_error(monkeypatch, capsys, *common, "--hardware", str(path), "--price", "h800=2")
    assert "h800" in line and "not a candidate" in line


# ---- prices ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("items", [["h800=2", "h800=3"], ["h800=2", "H800=3"], ["h20=1", "h800=2", "h800=2"]])
def test_duplicate_price_is_an_error(items):
    with pytest.raises(AfdscopeError, match=r"--price given twice for h800 .*give one price per device"):
        parse_prices(items)


def test_price_key_of_a_user_file_matches_its_label(tmp_path):
    path = tmp_path / "Mine.yaml"
    path.write_text(USER_H800)
    hw = load_hardware(str(path))
    prices = parse_prices([f"{path}=2.5", "H800=3"])
    assert price_for(prices, hw.name) == 2.5 and price_for(prices, "H800") == 3.0


def test_cli_duplicate_price(monkeypatch, capsys):
    common = ["search", "--model", "deepseek-v3", "--hardware", "h800", "--context", "4096"]
    line = cli_error(
        monkeypatch, capsys, *common, "--tpot-slo-ms", "50", "--price", "h800=2", "--price", "h800=3"
    )
    assert line == "error: --price given twice for h800 ('h800=2' and 'h800=3'); give one price per device"


# ---- library errors are AfdscopeError -----------------------------------------------------------------


@pytest.mark.parametrize("bad", [123, None, 2.5, ["deepseek-v3"]])
def test_wrong_argument_type_is_afdscope_error(bad):
    with pytest.raises(AfdscopeError, match="pass a catalog name"):
        load_model(bad)
    with pytest.raises(AfdscopeError, match="pass a short name"):
        load_hardware(bad)


def test_specs_pass_through():
    m, hw = load_model("deepseek-v3"), load_hardware("h800")
    assert load_model(m) is m and load_hardware(hw) is hw
    with pytest.raises(AfdscopeError, match="holds datasheet values, not paper"):
        load_hardware(hw, "paper")


def test_pydantic_errors_are_wrapped_naming_the_field(tmp_path):
    path = tmp_path / "gpu.yaml"
    path.write_text(USER_H800.replace("name: h800", "name: x") + "sustained: {hbm: 1.5}\n")
    with pytest.raises(AfdscopeError, match=r"field 'sustained.hbm' = 1.5: must be <= 1"):
        load_hardware(str(path))
    cfg = json.loads(files("afdscope.catalog").joinpath("models", "Qwen--Qwen3-235B-A22B.json").read_text())
    cfg["num_experts_per_tok"] = 200  # more experts per token than the 128 there are
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(AfdscopeError, match="top_k"):
        load_model(str(tmp_path / "config.json"))


def test_py_typed_ships():
    assert files("afdscope").joinpath("py.typed").is_file()
    pyproject = Path(__file__).parent.parent / "pyproject.toml"
    assert '"py.typed"' in pyproject.read_text()  # in the wheel's package data, not only in the tree
