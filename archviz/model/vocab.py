"""The words the model, the pages and the pictures share, defined once so that they cannot
disagree (on which states carry no traffic, say, or which severity is the worst)."""

from __future__ import annotations

from typing import Iterable

# Owners of a service as the consumer's DescribeVpcEndpointServices reports them, besides an account id.
AMAZON = "amazon"
MARKETPLACE = "aws-marketplace"

USE_CASES = ("aws-service", "marketplace", "internal-cross-account", "internal-same-account",
             "third-party", "external-consumer", "unresolved")
# The use cases whose provider is one of ours (an account of the organization or the crawled set):
# their provider side is drawn inside, with our accounts.
PROVIDER_IS_OURS = frozenset({"internal-cross-account", "internal-same-account", "external-consumer"})

# Endpoint and endpoint-connection states in which no traffic flows: refused or broken, not yet
# accepted or created, or going away. Any other state (``available``, ``partial``) counts as flowing.
PENDING_ACCEPTANCE = "pendingAcceptance"  # requested, and waiting for the provider to accept or reject
REJECTED = frozenset({"rejected", "failed"})
NOT_FLOWING = REJECTED | frozenset({PENDING_ACCEPTANCE, "pending", "deleting", "deleted", "expired"})

# Most severe first; the snapshot schema lists the same five.
SEVERITIES = ("critical", "high", "medium", "low", "info")
_RANK = {s: i for i, s in enumerate(SEVERITIES)}


def severity_rank(severity: str) -> int:
    """Sort key: 0 for critical, growing as severity falls (an unknown severity raises KeyError)."""
    return _RANK[severity]


def worst(severities: Iterable[str]) -> str | None:
    """The most severe of some severities; None when there are none."""
    return min(severities, key=severity_rank, default=None)
