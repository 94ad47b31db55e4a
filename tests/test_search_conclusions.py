"""`afdscope.search.conclusions` and `afdscope paper conclusions`: the verdict rule, the evidence rows and
the CLI's JSON (issue 12 §5)."""

from __future__ import annotations

import json
import math

import pytest

from afdscope.errors import AfdscopeError
from afdscope.search.conclusions import Grid, _falls_after_peak, paper_conclusions, verdict_of
from afdscope.search.space import SearchSpace

TINY = Grid(
    models=("step3",),
    standard=("h800",),
    superpod=("gb200",),
    slos_s=(0.05,),
    space=SearchSpace(
        max_gpus=48,
        max_batch_per_gpu=128,
        ep_overlaps=("2bo",),
        attention_tp=(1,),
        expert_tp=(1,),
        micro_batches=(3,),
        eplb_shares=(0.125,),
    ),
    ffn_nodes_added=1,
)


@pytest.fixture(scope="module")
def claims():
    return paper_conclusions(TINY)


@pytest.mark.parametrize(
    "agrees, verdict",
    [
        ([True] * 4 + [False], "holds"),  # 4/5 = 80 %: the boundary holds
        ([True] * 7 + [False] * 3, "partly"),  # 70 %
        ([True] * 3 + [False] * 7, "partly"),  # 30 %: the lower boundary is partly
        ([True] * 2 + [False] * 8, "does not hold"),  # 20 %
        ([True, True, None, None, None], "holds"),  # undecided rows are left out: 2/2
        ([False, None], "does not hold"),
    ],
)
def test_verdict_rule_on_hand_made_evidence(agrees, verdict):
    assert verdict_of(agrees) == verdict


def test_verdict_needs_a_decided_row():
    with pytest.raises(AfdscopeError, match="no evidence row"):
        verdict_of([None, None])


@pytest.mark.parametrize(
    "values, falls",
    [
        ([1.0, 3.0, 2.0, 1.0], True),
        ([1.0, 3.0, 2.0, 2.5], False),
        ([3.0, 3.0, 1.0], True),
        ([1.0, 2.0], True),
    ],
)
def test_falls_after_peak(values, falls):
    assert _falls_after_peak(values) is falls


def test_three_claims_with_verdicts_and_reasons(claims):
    assert [c.claim[:3] for c in claims] == ["(a)", "(b)", "(c)"]
    for c in claims:
        assert c.verdict in ("holds", "partly", "does not hold")
        assert c.reason and c.evidence
        ok, n = c.agreeing
        assert 0 <= ok <= n == sum(r["agrees"] is not None for r in c.evidence)
        assert c.verdict == verdict_of(r["agrees"] for r in c.evidence)


def test_dead_zone_rows(claims):
    (row,) = claims[0].evidence
    assert {"model", "hardware", "slo_ms", "ffn_nodes", "tokens_per_s_per_gpu", "usd_per_million", "hfu_ffn",
            "gain", "agrees"} <= set(row)  # fmt: skip
    # Step-3 on H800 (datasheet NVLink 160 GB/s, RDMA 45 GB/s per GPU): K/ρ = 3 · 45/160 = 0.84375 nodes;
    # the dead zone starts at K = 3 nodes.
    assert row["plateau_end_nodes"] == pytest.approx(0.844, abs=1e-3)
    assert row["dead_zone_nodes"] == 3
    assert row["ffn_nodes"][0] == 1 and len(row["ffn_nodes"]) == 2
    # gain: the best later tokens/s per GPU over the first
    t = row["tokens_per_s_per_gpu"]
    assert row["gain"] == pytest.approx(max(t[1:]) / t[0], rel=1e-3)
    assert row["agrees"] is (row["gain"] <= 1.02 and row["cost_gain"] <= 1.02)


def test_imbalance_rows(claims):
    rows = claims[1].evidence
    assert {r["hardware"] for r in rows} == {"h800", "gb200"}
    assert {r["skew"] for r in rows} == {"modelled", "sigma 0.8"}
    for r in rows:
        assert {"model", "slo_ms", "ep_kept", "afd_kept", "ratio_balanced", "ratio_skewed"} <= set(r)
        assert r["ep_kept"] == pytest.approx(r["ep_skewed"] / r["ep_balanced"], rel=1e-3)
        # a skew never helps; per-GPU attention counts are never worse than whole nodes
        assert r["ep_kept"] <= 1 + 1e-9 and r["afd_kept"] <= 1 + 1e-9
        assert r["whole_node_cost"] >= 1 - 1e-9


def test_what_favours_afd_rows(claims):
    rows = claims[2].evidence
    # one model: only the superpod comparison (GB200 against H800)
    assert [(r["factor"], r["hardware"]) for r in rows] == [("superpod", "gb200 vs h800")]
    r = rows[0]
    assert r["agrees"] is (r["favoured_ratio"] > r["other_ratio"])


def test_cli_quick_json(cli):
    res = cli("paper", "conclusions", "--quick", "--format", "json")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert [set(c) for c in out] == [{"claim", "verdict", "reason", "evidence"}] * 3
    for c in out:
        assert c["verdict"] in ("holds", "partly", "does not hold")
        assert all({"model", "hardware", "slo_ms", "agrees"} <= set(r) for r in c["evidence"])
        assert all(isinstance(v, float) and math.isfinite(v) for r in c["evidence"] for v in r.values()
                   if isinstance(v, float))  # fmt: skip


def test_cli_table(cli):
    res = cli("paper", "conclusions", "--quick")
    assert res.returncode == 0, res.stderr
    assert "verdict" in res.stdout and "(b)" in res.stdout
