"""The one table mapping resource kinds to icons. ``None``: no faithful icon exists, so the
kind is drawn as a labelled generic box rather than with a wrong icon.

Icons are named (``"network.Endpoint"``: ``diagrams.aws.network.Endpoint``) and imported only
when a node is drawn, so describing a picture needs neither Graphviz nor the diagrams package."""

from __future__ import annotations

from functools import lru_cache
from importlib import import_module

ICONS = {
    # consumers
    "endpoint:Interface": "network.Endpoint",
    "endpoint:Gateway": "network.Endpoint",
    "endpoint:GatewayLoadBalancer": None,  # no GWLB endpoint icon in diagrams.aws
    "endpoint:Resource": None,
    "endpoint:ServiceNetwork": None,
    "endpoints:aggregate": "network.Endpoint",
    "vpc": "network.VPC",
    "subnet:public": "network.PublicSubnet",
    "subnet:private": "network.PrivateSubnet",
    # providers
    "endpoint-service": "network.Privatelink",
    "load-balancer:network": "network.ElbNetworkLoadBalancer",
    "load-balancer:gateway": None,  # no GWLB icon in diagrams.aws
    "load-balancer:unknown": None,  # behind a service, but not crawled
    "listener": None,
    "target-group": None,
    "target:instance": "compute.EC2",
    "target:ip": "network.VPCElasticNetworkInterface",
    "target:aggregate": None,
    # the other ends of connections
    "aws-service": "general.General",
    "aws-service:s3": "storage.SimpleStorageServiceS3",
    "aws-service:dynamodb": "database.Dynamodb",
    "aws-service:execute-api": "network.APIGateway",
    "marketplace": "general.Marketplace",
    "third-party": "general.GenericOfficeBuilding",
    "external-consumer": "general.Users",
    "account": "general.GenericOfficeBuilding",
    "region": None,  # a region of an account: a labelled box
    "note": None,  # archviz's own remark in a diagram (an account holding nothing to draw)
    "unresolved": None,
}


# The same kinds in diagrams.net's AWS library (``aws4``), for ``--diagram-format drawio``: the
# shape and its AWS category colour, for kinds the SVG draws with an icon (the layout leaves an
# icon's square above its label). A kind not here is drawn as a labelled box, as in the SVG.
_NETWORK, _COMPUTE, _STORAGE, _DATABASE, _APP, _GENERAL = "#8C4FFF", "#ED7100", "#7AA116", "#C925D1", "#E7157B", "#232F3E"
DRAWIO = {
    "endpoint:Interface": ("mxgraph.aws4.endpoints", _NETWORK),
    "endpoint:Gateway": ("mxgraph.aws4.endpoints", _NETWORK),
    "endpoints:aggregate": ("mxgraph.aws4.endpoints", _NETWORK),
    "vpc": ("mxgraph.aws4.virtual_private_cloud", _NETWORK),
    "endpoint-service": ("mxgraph.aws4.vpc_privatelink", _NETWORK),
    "load-balancer:network": ("mxgraph.aws4.network_load_balancer", _NETWORK),
    "target:instance": ("mxgraph.aws4.instance2", _COMPUTE),
    "target:ip": ("mxgraph.aws4.elastic_network_interface", _NETWORK),
    "aws-service": ("mxgraph.aws4.general", _GENERAL),
    "aws-service:s3": ("mxgraph.aws4.s3", _STORAGE),
    "aws-service:dynamodb": ("mxgraph.aws4.dynamodb", _DATABASE),
    "aws-service:execute-api": ("mxgraph.aws4.api_gateway", _APP),
    "marketplace": ("mxgraph.aws4.marketplace", _GENERAL),
    "third-party": ("mxgraph.aws4.office_building", _GENERAL),
    "external-consumer": ("mxgraph.aws4.users", _GENERAL),
    "account": ("mxgraph.aws4.office_building", _GENERAL),
}


@lru_cache(maxsize=None)
def _icon_class(name: str):
    module, _, cls = name.rpartition(".")
    return getattr(import_module(f"diagrams.aws.{module}"), cls)


def node(kind: str, label: str, nodeid: str, **attrs):
    """Draw a node of ``kind`` (a key of :data:`ICONS`)."""
    from archviz.render.graph import Box

    if ICONS[kind] is None:
        return Box(label, nodeid=nodeid, **attrs)
    icon = _icon_class(ICONS[kind])
    # diagrams pads the height for real newlines only; archviz labels use DOT's "\n".
    lines = label.count("\\n") + 1
    attrs.setdefault("height", f"{1.9 + 0.3 * (lines - 1):.1f}")
    attrs.setdefault("imagepos", "tc")  # the icon stays on top, the lines below it
    return icon(label, nodeid=nodeid, **attrs)


def endpoint_kind(endpoint_type: str | None) -> str:
    """The icon key for a VPC endpoint type (unknown types get the generic box)."""
    key = f"endpoint:{endpoint_type}"
    return key if key in ICONS else "endpoint:Resource"


def aws_service_kind(service_name: str | None) -> str:
    """The icon for an AWS service: the last part of its name (``com.amazonaws.<region>.s3``)."""
    key = f"aws-service:{(service_name or '').rsplit('.', 1)[-1]}"
    return key if key in ICONS else "aws-service"
