"""`make run`'s main job: the paper's tables (CSV + Markdown) and figures (PNG) in one folder.

Everything is computed first and written afterwards, each file atomically, so an error leaves no
half-written output behind.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from afdscope.files import atomic_write, check_writable
from afdscope.paper.options import PaperOptions
from afdscope.paper.study import curve_study, imbalance_study, matrix_study
from afdscope.report.output import to_csv, to_markdown
from afdscope.report.paper_rows import curve_rows, imbalance_rows, matrix_rows

# The paper's two headline curves: the dead zone on a standard cluster, and the Superpod case.
DEFAULT_CURVES = (("deepseek-v3", "h800"), ("deepseek-v3", "gb200"), ("step3", "h800"))


@dataclass(frozen=True)
class PaperOutputs:
    files: tuple[Path, ...]
    text: str


def output_names() -> list[str]:
    """The files `write_paper_outputs` writes, in order."""
    stems = ["hfu_matrix", *(f"curve_{m}_{h}" for m, h in DEFAULT_CURVES), "imbalance_fig6"]
    return [f"{stem}.{ext}" for stem in stems for ext in ("csv", "md", "png")]


def write_paper_outputs(
    out: str | Path, options: PaperOptions | None = None, force: bool = False
) -> PaperOutputs:
    from afdscope.report.figures import plot_curve, plot_imbalance, plot_matrix

    options = options or PaperOptions()
    out = Path(out)
    check_writable([out / name for name in output_names()], force)
    cells = matrix_study(options=options)
    curves = [curve_study(m, h, "paper", options) for m, h in DEFAULT_CURVES]
    grid = imbalance_study()

    files: list[Path] = []
    rows = matrix_rows(cells)
    files.append(atomic_write(out / "hfu_matrix.csv", to_csv(rows)))
    files.append(atomic_write(out / "hfu_matrix.md", to_markdown(rows, "AFD FFN-side HFU ceiling")))
    files.append(plot_matrix(cells, out / "hfu_matrix.png"))
    for (m, h), study in zip(DEFAULT_CURVES, curves, strict=True):
        stem = f"curve_{m}_{h}"
        rows = curve_rows(study.curve)
        files.append(atomic_write(out / f"{stem}.csv", to_csv(rows)))
        files.append(atomic_write(out / f"{stem}.md", to_markdown(rows, study.title)))
        files.append(plot_curve(study.curve, study.boundaries, study.title, out / f"{stem}.png"))
    rows = imbalance_rows(grid)
    files.append(atomic_write(out / "imbalance_fig6.csv", to_csv(rows)))
    files.append(atomic_write(out / "imbalance_fig6.md", to_markdown(rows, "α: AFD vs EP at equal λ")))
    files.append(plot_imbalance(grid, out / "imbalance_fig6.png"))

    h800_v3 = next(c for c in cells if c.hardware == "h800" and c.model == "deepseek-v3")
    worse = int(grid.afd_worse.sum())
    lines = [
        f"afdscope: paper analyses (SLO {options.slo_s * 1e3:g} ms, "
        f"L_acc {options.accepted_tokens_per_step:g}, t_g {options.step_gap_s * 1e3:g} ms)",
        f"  H800 × DeepSeek-V3 AFD HFU ceiling: {h800_v3.hfu_ceiling:.1%} at N_F = {h800_v3.n_ffn_nodes}"
        if h800_v3.hfu_ceiling is not None
        else "  H800 × DeepSeek-V3: no feasible N_F",
        f"  AFD worse than EP at equal λ in {worse} of {len(grid.lam)} Fig. 6 grid points",
        f"  wrote {len(files)} files to {out}/:",
        *(f"    {f}" for f in files),
    ]
    return PaperOutputs(tuple(files), "\n".join(lines))
