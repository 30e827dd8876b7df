"""Planning: capacity sizing (and, later, failure what-ifs and capacity expansion)."""

from .sizing import STANDARD_PORTS_BPS, round_to_ports, size_capacities

__all__ = ["size_capacities", "round_to_ports", "STANDARD_PORTS_BPS"]
