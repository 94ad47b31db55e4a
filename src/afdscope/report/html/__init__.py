"""The HTML report: `page` (the whole page), `charts` and `paper_chart` (plotly figures), `tables` and
`style`."""

from afdscope.report.html.charts import map_layers
from afdscope.report.html.page import CHARTS, render_report, verdict_sentence
from afdscope.report.html.style import fmt

__all__ = ["CHARTS", "fmt", "map_layers", "render_report", "verdict_sentence"]
