"""The diagrams, one module per family: the overview (and the diagrams of OUs and groups of
accounts its nodes lead to), one per use case, one per endpoint service, one per account.

Each builder describes a :class:`~archviz.render.scene.Picture` (plain data); nothing is drawn
here. No diagram exceeds :data:`NODE_BUDGET` nodes: builders take an aggregation level
(endpoints per VPC, per account, per region; services per provider; consumers per region;
targets per target group) and :func:`fit` keeps the most detailed level that fits, and knows
the next coarser one in case the drawing is still too large. Counted nodes link to the detailed
diagram. Which builder draws which kind of diagram is :mod:`archviz.render.kinds`'s table."""

from __future__ import annotations

from archviz.render.pictures.account import _account, account
from archviz.render.pictures.common import EDGE_BUDGET, FAN_BUDGET, NODE_BUDGET, fit, readable
from archviz.render.pictures.overview import Scope, overview
from archviz.render.pictures.service import service
from archviz.render.pictures.use_case import use_case
from archviz.render.scene import Picture

__all__ = ["overview", "use_case", "service", "account", "_account", "Scope", "Picture", "fit", "readable",
           "NODE_BUDGET", "FAN_BUDGET", "EDGE_BUDGET"]
