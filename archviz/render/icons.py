"""The one table mapping resource kinds to icons. ``None``: no faithful icon exists, so the
kind is drawn as a labelled generic box rather than with a wrong icon."""

from __future__ import annotations

from diagrams.aws.compute import EC2
from diagrams.aws.database import Dynamodb
from diagrams.aws.general import General, GenericOfficeBuilding, Marketplace, Users
from diagrams.aws.network import (
    VPC,
    APIGateway,
    ElbNetworkLoadBalancer,
    Endpoint,
    Privatelink,
    PrivateSubnet,
    PublicSubnet,
    VPCElasticNetworkInterface,
)
from diagrams.aws.storage import SimpleStorageServiceS3

from archviz.render.graph import Box

ICONS = {
    # consumers
    "endpoint:Interface": Endpoint,
    "endpoint:Gateway": Endpoint,
    "endpoint:GatewayLoadBalancer": None,  # no GWLB endpoint icon in diagrams.aws
    "endpoint:Resource": None,
    "endpoint:ServiceNetwork": None,
    "endpoints:aggregate": Endpoint,
    "vpc": VPC,
    "subnet:public": PublicSubnet,
    "subnet:private": PrivateSubnet,
    # providers
    "endpoint-service": Privatelink,
    "load-balancer:network": ElbNetworkLoadBalancer,
    "load-balancer:gateway": None,  # no GWLB icon in diagrams.aws
    "load-balancer:unknown": None,  # behind a service, but not crawled
    "listener": None,
    "target-group": None,
    "target:instance": EC2,
    "target:ip": VPCElasticNetworkInterface,
    "target:aggregate": None,
    # the other ends of connections
    "aws-service": General,
    "aws-service:s3": SimpleStorageServiceS3,
    "aws-service:dynamodb": Dynamodb,
    "aws-service:execute-api": APIGateway,
    "marketplace": Marketplace,
    "third-party": GenericOfficeBuilding,
    "external-consumer": Users,
    "account": GenericOfficeBuilding,
    "unresolved": None,
}


def node(kind: str, label: str, nodeid: str, **attrs):
    """Draw a node of ``kind`` (a key of :data:`ICONS`)."""
    icon = ICONS[kind]
    if icon is None:
        return Box(label, nodeid=nodeid, **attrs)
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
