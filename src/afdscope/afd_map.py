"""Temporary re-export: the map moved to `afdscope.search.map`. Delete once no caller imports this."""

from afdscope.search.map import AXES, Axis, MapResult, afd_ep_map, axis, paper_gpu_points

__all__ = ["AXES", "Axis", "MapResult", "afd_ep_map", "axis", "paper_gpu_points"]
