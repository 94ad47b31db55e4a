"""Hardware catalog: packaged YAMLs load, the paper set reproduces Table 5, bad files give one-line errors.

Expected numbers are typed in from the paper (Table 5, paper-model.md §8) and the datasheets, not read back
from the YAML files.
"""

from pathlib import Path

import pytest

from afdscope.catalog.hardware_catalog import PAPER_HARDWARE, list_hardware, load_hardware
from afdscope.errors import AfdscopeError

ALL = [
    "a800", "ascend-910c", "b200", "b300", "gb200", "gb300", "h100", "h20", "h200", "h800", "l40s", "mi300x",
    "mi355x",
]  # fmt: skip

# Paper Table 5: FP8 TFLOPS, HBM TB/s, HBM GB, scale-out GB/s (None = "Superpod"), scale-up GB/s.
TABLE5 = {
    "h20": (296, 4.0, 96, 50, 360),
    "h100": (1979, 3.35, 80, 50, 360),
    "h200": (1979, 4.0, 141, 50, 360),
    "h800": (1979, 3.35, 80, 50, 160),
    "b200": (4500, 7.7, 180, 50, 720),
    "b300": (4500, 8.0, 270, 100, 720),
    "gb200": (4500, 7.7, 180, None, 720),
    "gb300": (4500, 8.0, 270, None, 720),
}

GOOD = """\
name: my-gpu
display_name: My GPU
datasheet:
  bf16_dense_tflops: 100
  fp8_dense_tflops: 200
  hbm_capacity_gb: 64
  hbm_bandwidth_tb_s: 2.0
  scale_up_bandwidth_gb_s: 300
  scale_up_domain_gpus: 8
  scale_out_bandwidth_gb_s: 25
sustained: {hbm: 0.5}
price_usd_per_gpu_hour: 1.5
"""


def write(tmp_path: Path, text: str, name: str = "gpu.yaml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_list_hardware_is_the_full_sorted_catalog():
    assert list_hardware() == ALL
    assert set(PAPER_HARDWARE) == set(TABLE5)


@pytest.mark.parametrize("name", ALL)
def test_every_device_loads_in_datasheet_set(name):
    hw = load_hardware(name)
    assert hw.name == name
    assert hw.value_set == "datasheet"
    assert hw.gpus_per_node == 8
    assert hw.sources and hw.notes  # every entry says where its numbers come from
    assert hw.price_usd_per_gpu_hour > 0


@pytest.mark.parametrize("name", ["H800", "Gb200", " ascend-910C "])
def test_lookup_is_case_insensitive(name):
    assert load_hardware(name) is load_hardware(name.strip().lower())  # cached, same immutable object


@pytest.mark.parametrize("name", sorted(TABLE5))
def test_paper_set_reproduces_table5(name):
    fp8, hbm_bw, hbm_gb, out, up = TABLE5[name]
    hw = load_hardware(name, "paper")
    assert hw.value_set == "paper"
    assert hw.effective_flops("fp8") == pytest.approx(fp8 * 1e12, rel=1e-12)
    assert hw.effective_hbm_bandwidth == pytest.approx(hbm_bw * 1e12, rel=1e-12)
    assert hw.hbm_capacity == pytest.approx(hbm_gb * 1e9, rel=1e-12)
    assert hw.effective_scale_up_bandwidth == pytest.approx(up * 1e9, rel=1e-12)
    if out is not None:
        assert hw.effective_scale_out_bandwidth == pytest.approx(out * 1e9, rel=1e-12)


def test_paper_set_spot_values():
    assert load_hardware("h800", "paper").effective_scale_up_bandwidth == 160e9
    assert load_hardware("gb200", "paper").effective_flops("fp8") == 4500e12
    assert load_hardware("h200", "paper").effective_hbm_bandwidth == pytest.approx(4.0e12)
    assert load_hardware("h200").hbm_bandwidth == pytest.approx(4.8e12)  # datasheet peak
    assert load_hardware("gb200").fp8_flops == 5000e12  # datasheet FP8 differs from the paper's 4500


def test_superpod_scale_out_keeps_datasheet_value_in_paper_set():
    # The paper prints "Superpod" for scale-out; the datasheet CX-7 400G (GB200) / CX-8 800G (GB300) stays.
    assert load_hardware("gb200", "paper").effective_scale_out_bandwidth == 50e9
    assert load_hardware("gb300", "paper").effective_scale_out_bandwidth == 100e9


def test_rho_in_paper_set():
    def rho(name):
        hw = load_hardware(name, "paper")
        return hw.effective_scale_up_bandwidth / hw.effective_scale_out_bandwidth

    assert rho("h800") == pytest.approx(160 / 50) == 3.2
    assert rho("h20") == pytest.approx(360 / 50) == 7.2


def test_superpod_flags():
    assert load_hardware("gb200").is_superpod
    assert load_hardware("gb300").is_superpod
    assert load_hardware("ascend-910c").is_superpod  # CloudMatrix384
    assert not load_hardware("h800").is_superpod
    assert not load_hardware("b200").is_superpod
    assert load_hardware("gb200").scale_up_domain == 72


def test_datasheet_set_applies_sustained_fractions():
    hw = load_hardware("h800")
    assert hw.hbm_bandwidth == pytest.approx(3.35e12)
    assert hw.effective_hbm_bandwidth == pytest.approx(3.35e12 * 0.8)
    assert hw.effective_scale_up_bandwidth == pytest.approx(200e9 * 0.8)  # DeepSeek's ~160 achievable
    assert hw.effective_scale_out_bandwidth == pytest.approx(50e9 * 0.9)
    assert hw.effective_flops("fp8") == pytest.approx(1979e12)
    assert hw.effective_flops("bf16") == pytest.approx(989e12)


def test_units_are_si():
    hw = load_hardware("mi300x")
    assert hw.hbm_capacity == 206_141_652_992  # rocm-smi bytes (192 GB datasheet)
    assert hw.hbm_bandwidth == pytest.approx(5.3e12)
    assert hw.scale_up_bandwidth == pytest.approx(448e9)  # 7 peers x 64 GB/s xGMI
    assert hw.bf16_flops == pytest.approx(1307e12)
    l40s = load_hardware("l40s")
    assert l40s.scale_up_bandwidth == pytest.approx(32e9)  # PCIe Gen4 x16
    assert l40s.scale_out_bandwidth == pytest.approx(2 * 400e9 / 8 / 8)  # 2 x 400 Gb/s per 8-GPU node


@pytest.mark.parametrize("name", ["ascend-910c", "a800"])
def test_no_fp8_devices(name):
    hw = load_hardware(name)
    assert hw.fp8_flops is None
    assert "fp8" not in hw.dtypes
    with pytest.raises(AfdscopeError, match="FP8"):
        hw.peak_flops("fp8")


def test_ascend_scale_up_domain():
    hw = load_hardware("ascend-910c")
    assert hw.scale_up_domain == 384
    assert hw.bf16_flops == pytest.approx(752e12)


@pytest.mark.parametrize("name", ["a800", "ascend-910c", "l40s", "mi300x", "mi355x"])
def test_paper_set_without_paper_block_is_an_error(name):
    with pytest.raises(AfdscopeError) as info:
        load_hardware(name, "paper")
    msg = str(info.value)
    assert name in msg and "h800" in msg and "gb300" in msg and "\n" not in msg


def test_unknown_name():
    with pytest.raises(AfdscopeError) as info:
        load_hardware("hopper")  # nothing close: the whole list
    msg = str(info.value)
    assert msg.startswith("unknown hardware 'hopper'; known: a800, ascend-910c, b200")
    assert "path to a YAML file" in msg
    # a typo: the nearest names only ('h900' is one edit from h100, h200 and h800 alike)
    with pytest.raises(AfdscopeError) as info:
        load_hardware("h900")
    assert str(info.value).startswith("unknown hardware 'h900'; did you mean h100, h200 or h800?")
    assert "a800" not in str(info.value)


def test_unknown_value_set():
    with pytest.raises(AfdscopeError, match="value set"):
        load_hardware("h800", "measured")  # type: ignore[arg-type]


def test_user_yaml_loads(tmp_path):
    hw = load_hardware(write(tmp_path, GOOD))
    assert hw.name == "my-gpu"
    assert hw.fp8_flops == pytest.approx(200e12)
    assert hw.fp4_flops is None
    assert hw.effective_hbm_bandwidth == pytest.approx(2.0e12 * 0.5)
    assert hw.effective_scale_up_bandwidth == pytest.approx(300e9 * 0.8)  # default fraction
    assert hw.gpus_per_node == 8 and not hw.is_superpod
    assert hw.price_usd_per_gpu_hour == 1.5


def test_user_yaml_paper_block_partially_overrides(tmp_path):
    path = write(tmp_path, GOOD + "paper:\n  scale_up_bandwidth_gb_s: 250\n")
    hw = load_hardware(path, "paper")
    assert hw.effective_scale_up_bandwidth == pytest.approx(250e9)
    assert hw.effective_hbm_bandwidth == pytest.approx(2.0e12)  # datasheet peak, fraction 1


def test_missing_file(tmp_path):
    missing = str(tmp_path / "nope.yaml")
    with pytest.raises(AfdscopeError, match="nope.yaml: cannot read"):
        load_hardware(missing)


def one_line_error(path: str) -> str:
    with pytest.raises(AfdscopeError) as info:
        load_hardware(path)
    msg = str(info.value)
    assert "\n" not in msg
    assert msg.startswith(path + ":")
    return msg


def test_malformed_yaml(tmp_path):
    msg = one_line_error(write(tmp_path, "name: x\ndatasheet: [1, 2\n"))
    assert "malformed YAML" in msg and "line" in msg


def test_not_a_mapping(tmp_path):
    assert "mapping" in one_line_error(write(tmp_path, "- just\n- a list\n"))


def test_unknown_key(tmp_path):
    text = GOOD.replace("hbm_bandwidth_tb_s:", "hbm_bw_tb_s:")
    msg = one_line_error(write(tmp_path, text))
    assert "datasheet.hbm_bw_tb_s" in msg and "hbm_bandwidth_tb_s" in msg  # names the bad key and the fix


def test_unknown_top_level_key(tmp_path):
    msg = one_line_error(write(tmp_path, GOOD + "colour: green\n"))
    assert "'colour'" in msg and "display_name" in msg


def test_negative_bandwidth(tmp_path):
    msg = one_line_error(write(tmp_path, GOOD.replace("hbm_bandwidth_tb_s: 2.0", "hbm_bandwidth_tb_s: -1")))
    assert msg.endswith("field 'datasheet.hbm_bandwidth_tb_s' = -1: must be > 0")


def test_zero_flops(tmp_path):
    msg = one_line_error(write(tmp_path, GOOD.replace("bf16_dense_tflops: 100", "bf16_dense_tflops: 0")))
    assert msg.endswith("field 'datasheet.bf16_dense_tflops' = 0: must be > 0")


def test_zero_capacity(tmp_path):
    msg = one_line_error(write(tmp_path, GOOD.replace("hbm_capacity_gb: 64", "hbm_capacity_gb: 0")))
    assert "datasheet.hbm_capacity_gb" in msg and "must be > 0" in msg


@pytest.mark.parametrize(("value", "fix"), [("1.5", "must be <= 1"), ("0", "must be > 0")])
def test_fraction_out_of_range(tmp_path, value, fix):
    msg = one_line_error(write(tmp_path, GOOD.replace("{hbm: 0.5}", "{hbm: " + value + "}")))
    assert msg.endswith(f"field 'sustained.hbm' = {value}: {fix}")


def test_quoted_number_is_rejected(tmp_path):
    msg = one_line_error(
        write(tmp_path, GOOD.replace("scale_up_domain_gpus: 8", "scale_up_domain_gpus: '8'"))
    )
    assert "datasheet.scale_up_domain_gpus" in msg and "'8'" in msg


def test_missing_field(tmp_path):
    msg = one_line_error(write(tmp_path, GOOD.replace("  hbm_capacity_gb: 64\n", "")))
    assert "datasheet.hbm_capacity_gb" in msg and "missing" in msg
