"""Redaction: a snapshot that can be published without giving away whose estate it is.

A diagram or a page is worth sharing only if nobody can read account ids, addresses or the
organization out of it. Redaction replaces them everywhere in a snapshot (every string value and
every dict key, at any depth: endpoint policies, tags, evidence references, ARNs, principals,
coverage messages) with pseudonyms, and keeps everything AWS owns (service names, regions, zones,
resource ids), which reveals nothing and is what the diagrams are about.

Consistency is the point: one original always becomes one pseudonym, within an output and across
runs given the same key, and the pseudonyms keep the shape the schema and the model rely on (an
account id stays twelve digits, an address stays an address in the same pseudonymous subnet). So
the redacted snapshot validates, analyses and renders with the same connections and findings,
renamed. The pseudonyms are keyed HMAC-SHA256: without the key nobody can recompute them by
trying the few million plausible account ids.

What is replaced:

- 12-digit runs (account ids), and 12-digit numbers (an account id in a policy condition): by
  12-digit pseudonyms (text), never equal to a 12-digit run of any input. Also 12 digits in three
  or more groups with one separator throughout (``768-611-143-949``, ``7686 1114 3949``,
  ``7686_1114_3949``, ``7686.1114.3949``; not a date, ``2026-12-03-10-00``,
  ``26-12-03-10-00-00``, ``03-12-2026-1000``), by the pseudonym written with the same
  separators; and an account of the inputs inside a longer run of digits or of groups.
- IPv4 and IPv6 addresses and CIDRs: prefix-preserving (Crypto-PAn with HMAC as its PRF), so a
  subnet's addresses stay in the pseudonymous subnet; ``0.0.0.0/0`` and ``::/0`` stay as they are.
  Also IPv4 written with dashes after any prefix and among other numbers (``db-10-1-2-3``,
  ``db1-10-1-2-3``, ``10-1-2-3-80``, ``node-1-10-1-2-3``: see :func:`_dashed_address`) or with
  URL-encoded dots (``10%2E1%2E2%2E3``, ``host%2E10%2E1%2E2%2E3``), and a CIDR's ``/24`` or
  ``%2F24`` after either, kept in that spelling.
- DNS names whose first label (after ``*.`` or ``dualstack.``) embeds an id or an address
  (``vpce-0abc...-xyz.vpce-svc-...``), and load balancer DNS names: that label, by ``h-<10 hex>``;
  the rest stays readable. An instance host name alone (``ip-10-1-2-3``) keeps its shape.
- Organization, root and OU ids: pseudonyms of the same shape (an OU keeps its root's pseudonym),
  in upper case for an id written in upper case (``O-FL5LWBIAJ7``).
- Any of these split by format characters (Unicode Cf: U+200B, U+2060, a soft hyphen): the
  characters inside the value are dropped, the value replaced as if written whole (an
  organization, root or OU id of the inputs also glued to text or in mixed case).
- With ``names``: account and OU names, tag values, the names of VPCs, subnets, security groups,
  endpoints, endpoint services, load balancers and target groups (in ARNs too), and the custom
  private DNS names of services that are not AWS's.

Never rewritten: a UUID-shaped span (8-4-4-4-12 hex digits: a KMS key id, a request id), though
its groups can read as an account id; the text around it is redacted as usual.

The package: :mod:`.patterns` (what counts as an id, an address or a name), :mod:`.keys` (keys
and pseudonyms) and :mod:`.core` (the :class:`Redactor` that walks a snapshot)."""

from __future__ import annotations

from archviz.redact.core import Redactor, from_options, redact
from archviz.redact.keys import derived_key, load_key
from archviz.redact.patterns import KEY_BYTES_MAX, KEY_BYTES_MIN

__all__ = ["Redactor", "from_options", "redact", "load_key", "derived_key", "KEY_BYTES_MIN", "KEY_BYTES_MAX"]
