"""The radial low-voltage feeder as a networkx tree.

Buses are nodes, lines are edges oriented away from the root (the transformer's low-voltage bus).
The power on line ``e`` is the sum of the net imports of the participants on the buses downstream of
``e`` (positive = flowing from the transformer towards the customers), which is exact for a radial
feeder without losses. That gives the line-flow matrix ``L`` (lines x buses) with
``L[e, b] = 1`` if bus ``b`` lies downstream of line ``e``: ``flow_kw = L @ bus_net_import_kw``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import networkx as nx
import numpy as np
import scipy.sparse as sp

from p2psim.units import is_quantity


@dataclass(frozen=True, kw_only=True)
class LineSpec:
    """One feeder line (cable or overhead)."""

    id: str
    """Stable line id, for example ``"line-07"``."""
    from_bus: str
    """Bus nearer the transformer once the tree is oriented (either end is accepted)."""
    to_bus: str
    """The other end."""
    rating_kw: float
    """Thermal rating as active power at nominal voltage and unity power factor."""
    r_ohm: float = 0.0
    """Series resistance of the whole line."""
    x_ohm: float = 0.0
    """Series reactance of the whole line."""
    length_km: float = 0.0
    """Length, for reports and distance features."""


@dataclass(frozen=True, kw_only=True, eq=False)
class Feeder:
    """A radial feeder: buses, lines, the root bus and the transformer limit."""

    buses: tuple[str, ...]
    """Every bus id; participants sit on these."""
    lines: tuple[LineSpec, ...]
    """Every line; together they must form a tree spanning ``buses``."""
    root_bus: str
    """The transformer's low-voltage bus, where the community meets the grid."""
    transformer_limit_kw: float
    """Largest power the transformer may carry in either direction."""
    nominal_voltage_kv: float = 0.4
    """Line-to-line nominal voltage."""

    def problems(self) -> list[str]:
        """Return every structural problem of the feeder (empty when it is a valid radial tree)."""
        out: list[str] = []
        known = set(self.buses)
        if len(known) != len(self.buses):
            out.append("feeder.buses has duplicates; give every bus a unique id")
        if self.root_bus not in known:
            out.append(f"feeder.root_bus={self.root_bus!r} is not in feeder.buses; add it or fix the id")
        if not (is_quantity(self.transformer_limit_kw) and self.transformer_limit_kw > 0):
            out.append(
                f"feeder.transformer_limit_kw={self.transformer_limit_kw} must be positive; "
                "use the transformer rating in kW"
            )
        for line in self.lines:
            for end in (line.from_bus, line.to_bus):
                if end not in known:
                    out.append(f"line {line.id!r} ends at unknown bus {end!r}; add it to feeder.buses")
            if not (is_quantity(line.rating_kw) and line.rating_kw > 0):
                out.append(f"line {line.id!r} has rating_kw={line.rating_kw}; ratings must be positive")
        if not out:
            graph = self.graph
            if not nx.is_tree(graph):
                out.append(
                    f"the feeder is not a radial tree ({graph.number_of_nodes()} buses, "
                    f"{graph.number_of_edges()} lines); remove loops or connect islands"
                )
        return out

    @cached_property
    def graph(self) -> nx.Graph:
        """Undirected feeder graph; edges carry the ``LineSpec`` under ``"line"``."""
        graph = nx.Graph()
        graph.add_nodes_from(self.buses)
        for line in self.lines:
            graph.add_edge(line.from_bus, line.to_bus, line=line, weight=line.length_km)
        return graph

    @cached_property
    def bus_index(self) -> dict[str, int]:
        """Position of each bus in ``buses``."""
        return {bus: k for k, bus in enumerate(self.buses)}

    @cached_property
    def downstream_matrix(self) -> sp.csr_matrix:
        """Line-flow matrix ``L`` (lines x buses): ``L[e, b] = 1`` when bus b is downstream of e."""
        tree = nx.bfs_tree(self.graph, self.root_bus)
        rows, cols = [], []
        for k, line in enumerate(self.lines):
            child = line.to_bus if tree.has_edge(line.from_bus, line.to_bus) else line.from_bus
            for bus in (child, *nx.descendants(tree, child)):
                rows.append(k)
                cols.append(self.bus_index[bus])
        data = np.ones(len(rows))
        return sp.csr_matrix((data, (rows, cols)), shape=(len(self.lines), len(self.buses)))

    @cached_property
    def line_rating_kw(self) -> np.ndarray:
        """Ratings of the lines in ``lines`` order."""
        return np.array([line.rating_kw for line in self.lines], dtype=float)

    @cached_property
    def distance_km(self) -> dict[str, float]:
        """Cable distance from the root bus to each bus."""
        return dict(nx.single_source_dijkstra_path_length(self.graph, self.root_bus))

    def line_flows_kw(self, bus_net_import_kw: np.ndarray) -> np.ndarray:
        """Return line flows (lines x T) for net imports per bus (buses x T)."""
        return np.asarray(self.downstream_matrix @ bus_net_import_kw)
