"""Discrete-event simulation (SimPy) of AFD and large-scale EP decode steps.

Stage times come from the closed-form evaluators; the simulator adds what they average away:
pipeline dynamics step by step, per-operator jitter and spikes, and routing skew drawn per layer.
"""

from afdscope.sim.afd import simulate_afd
from afdscope.sim.ep import simulate_ep
from afdscope.sim.options import SimOptions
from afdscope.sim.result import SimResult
from afdscope.sim.trace import trace_events, write_trace

__all__ = ["SimOptions", "SimResult", "simulate_afd", "simulate_ep", "trace_events", "write_trace"]
