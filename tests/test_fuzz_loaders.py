"""Fuzzing the loaders: arbitrary bytes and mutated real files either load or raise AfdscopeError.

The budget is bounded for `make test` (AFDSCOPE_FUZZ_EXAMPLES, default 150 per test); `make fuzz` raises it.
"""

import json
import os
from importlib import resources

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from afdscope.catalog.hardware_catalog import load_hardware
from afdscope.catalog.model_catalog import load_model
from afdscope.errors import AfdscopeError

EXAMPLES = int(os.environ.get("AFDSCOPE_FUZZ_EXAMPLES", "150"))
FUZZ = settings(
    max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

MODEL_TEXT = (
    resources.files("afdscope.catalog").joinpath("models", "deepseek-ai--DeepSeek-V3.json").read_text()
)
HW_TEXT = resources.files("afdscope.catalog").joinpath("hardware", "h800.yaml").read_text()
MODEL = json.loads(MODEL_TEXT)
HW = yaml.safe_load(HW_TEXT)

# Values a mutation may put in place of a field: wrong types, signs, sizes, shapes.
junk = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.lists(st.integers(-3, 100), max_size=4),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
)


def _loads_or_clean_error(loader, path) -> None:
    try:
        loader(str(path))
    except AfdscopeError as exc:
        assert str(exc) and "\n" not in str(exc)


@FUZZ
@given(st.binary(max_size=400))
def test_random_bytes_as_config_json(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("fuzz") / "config.json"
    path.write_bytes(data)
    _loads_or_clean_error(load_model, path)


@FUZZ
@given(st.binary(max_size=400))
def test_random_bytes_as_hardware_yaml(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("fuzz") / "gpu.yaml"
    path.write_bytes(data)
    _loads_or_clean_error(load_hardware, path)


@FUZZ
@given(st.sampled_from(sorted(MODEL)), junk, st.booleans())
def test_mutated_deepseek_config(tmp_path_factory, key, value, delete):
    cfg = dict(MODEL)
    if delete:
        cfg.pop(key)
    else:
        cfg[key] = value
    path = tmp_path_factory.mktemp("fuzz") / "config.json"
    path.write_text(json.dumps(cfg, allow_nan=True))
    _loads_or_clean_error(load_model, path)


@FUZZ
@given(st.sampled_from(["name", "display_name", "gpus_per_node", "datasheet", "sustained", "paper"]), junk)
def test_mutated_hardware_top_level(tmp_path_factory, key, value):
    doc = dict(HW)
    doc[key] = value
    path = tmp_path_factory.mktemp("fuzz") / "gpu.yaml"
    path.write_text(yaml.safe_dump(doc))
    _loads_or_clean_error(load_hardware, path)


@FUZZ
@given(st.sampled_from(sorted(HW["datasheet"])), junk)
def test_mutated_hardware_datasheet(tmp_path_factory, key, value):
    doc = dict(HW)
    doc["datasheet"] = dict(HW["datasheet"]) | {key: value}
    path = tmp_path_factory.mktemp("fuzz") / "gpu.yaml"
    path.write_text(yaml.safe_dump(doc))
    _loads_or_clean_error(load_hardware, path)
    _loads_or_clean_error(lambda p: load_hardware(p, "paper"), path)
