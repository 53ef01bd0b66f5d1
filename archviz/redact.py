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
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import unicodedata
from collections import defaultdict
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from archviz import records, snapshot
from archviz.errors import InputError
from archviz.files import regular_file

KEY_BYTES_MIN = 16
KEY_BYTES_MAX = 64 * 1024
_KEY_CONTEXT = b"archviz-redact-v1\0"

# What a snapshot derives from its records: dropped, and recomputed from the redacted records.
_DERIVED = records.DERIVED

_ACCOUNT = re.compile(r"(?<![0-9])[0-9]{12}(?![0-9])")


_DAY, _MONTH = r"(?:0[1-9]|[12][0-9]|3[01])", r"(?:0[1-9]|1[0-2])"
_YEAR = r"(?:19|20)[0-9]{2}(?![0-9])"
_HOUR, _MINUTE = r"(?:[01][0-9]|2[0-3])", r"[0-5][0-9]"


def _grouped(sep: str) -> str:
    """Twelve digits in three or more groups with one separator throughout (``768-611-143-949``,
    ``7686 1114 3949``), not part of a longer grouped number, and not led by a date
    (``2026-12-03-10-00``, ``03-12-2026-1000``, ``12-25-2026-1000``) nor a date and time with a
    two-digit year (``26-12-03-10-00-00``: only whole, as ``10-10-10-10-8080`` is an address and a
    port). Two groups are not enough: ``20261203-1000`` is a time, ``1714567890.12`` a number. The
    pattern after the first digit (see _TOKENS)."""
    s = re.escape(sep)
    date = rf"[0-9]{{2}}{s}{_MONTH}{s}{_DAY}{s}"  # 2026-12-03-..., after the "2"
    day = r"(?:(?<=0)[1-9]|(?<=[12])[0-9]|(?<=3)[01])"  # the second digit of a day
    month = r"(?:(?<=0)[1-9]|(?<=1)[0-2])"
    dates = (rf"(?<=1)9{date}|(?<=2)0{date}"  # YYYY-MM-DD-
             rf"|[0-9]{s}{_MONTH}{s}{_DAY}{s}{_HOUR}{s}{_MINUTE}{s}{_MINUTE}(?![0-9]|{s}[0-9])"  # YY-MM-DD-hh-mm-ss
             rf"|{day}{s}{_MONTH}{s}{_YEAR}|{month}{s}{_DAY}{s}{_YEAR}")  # DD-MM-YYYY, MM-DD-YYYY
    return (rf"(?<![0-9]{s}[0-9])(?=[0-9]*{s}[0-9]+{s}[0-9])(?!{dates})"
            rf"{s}?(?:[0-9]{s}?){{10}}[0-9](?![0-9]|{s}[0-9])")


_GROUPED = re.compile(r"[0-9](?<![0-9][0-9])(?:" + "|".join(_grouped(sep) for sep in "- _.") + ")")
# The same, with the separators a DNS label can hold (a first label like 1234-5678-9012.dkr...).
_GROUPED_LABEL = re.compile(r"[0-9](?<![0-9][0-9])(?:" + "|".join(_grouped(sep) for sep in "-_") + ")")
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|[01]?[0-9]{1,2})"
_OCTET_ONLY = re.compile(_OCTET)
# Four or more numbers separated by dashes, as long as they go (a dashed address with any prefix,
# ``ip-10-1-2-3``, ``db1-10-1-2-3``, ``10-1-2-3-80``; an account id ``768-611-143-949``):
# :func:`_dashed_address` decides which four of them, if any, are an address.
_DASHED_RUN = re.compile(r"[0-9](?<![0-9][0-9])(?<![0-9]-[0-9])[0-9]*+(?:-[0-9]++){3,}+")
# A run of dashed numbers led by a date (YYYY-MM-DD-, DD-MM-YYYY, MM-DD-YYYY), or that is a date and
# time with a two-digit year (YY-MM-DD-hh-mm, YY-MM-DD-hh-mm-ss; led by one is not enough:
# ``10-10-10-10-8080`` is an address and a port).
_DATE_LED = re.compile(rf"(?:19|20)[0-9]{{2}}-{_MONTH}-{_DAY}-|(?:{_DAY}-{_MONTH}|{_MONTH}-{_DAY})-{_YEAR}"
                       rf"|[0-9]{{2}}-{_MONTH}-{_DAY}-{_HOUR}-{_MINUTE}(?:-{_MINUTE})?$")
# A UUID (a KMS key id, a request id): never rewritten, though its groups can read as an account id
# (``4a1b2c3d-1234-5678-9012-abcdef012345``, about one random UUID in 1,600).
_UUID = re.compile(r"([0-9A-Fa-f](?<![0-9A-Za-z][0-9A-Fa-f])[0-9A-Fa-f]{7}(?:-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}"
                   r"(?![0-9A-Za-z]))")
_UUID_HINT = re.compile(r"-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-")  # led by a literal: a fast scan


def _private(octets: list[str]) -> bool:
    """10/8, 172.16/12, 192.168/16, 100.64/10 (shared) or 169.254/16 (link-local): what a host name
    that embeds an address usually embeds."""
    a, b = int(octets[0]), int(octets[1])
    return a == 10 or (a, b >> 4) == (172, 1) or (a, b) in ((192, 168), (169, 254)) or (a == 100 and 64 <= b < 128)


def _dashed_address(groups: list[str], glued: bool, accounts: frozenset[str] = frozenset()) -> int | None:
    """Where four of a run of dashed numbers are an address: the index of the first of them, or None.

    Four numbers are an address when they are valid octets. In a longer run (five or more), a
    run led by a date (``2026-12-03-10-00``, ``03-12-2026-10-00``) or that is a date and time with
    a two-digit year (``26-12-03-10-00-00``) holds none; otherwise a reading whose twelve digits
    are one of ``accounts`` wins (the caller takes it for that account), then one that is a
    private address (``node-1-10-1-1-5``, ``10-1-1-5-80``), then one that does not use the first
    number when it is glued to a letter (``db1-54-1-1-5``, ``ec2-54-1-2-3``), then the first
    (``1-2-3-4-5``: ``1.2.3.4`` and ``-5``). Twelve digits in five or more numbers are an
    account id before any of this (:meth:`Redactor._dashed`)."""
    n = len(groups)
    if n < 4:
        return None
    valid = [len(g) <= 3 and _OCTET_ONLY.fullmatch(g) is not None for g in groups]
    if n == 4:
        return 0 if all(valid) else None
    if _DATE_LED.match("-".join(groups)):
        return None
    best = None
    for i in range(n - 3):
        if all(valid[i:i + 4]):
            octets = groups[i:i + 4]
            rank = ("".join(octets) not in accounts, not _private(octets), glued and i == 0, i)
            if best is None or rank < best:
                best = rank
    return best[-1] if best else None


def _glued_to_letter(text: str, start: int) -> bool:
    return start > 0 and ("a" <= text[start - 1].lower() <= "z")


def _holds_dashed_address(label: str) -> bool:
    """A DNS label with a dashed address in it (``ip-10-1-2-3``, ``node2-10-1-2-3``)."""
    return any(_dashed_address(m.group().split("-"), _glued_to_letter(label, m.start())) is not None
               for m in _DASHED_RUN.finditer(label))


# One pass over a string finds every address, organization id and account id, so that no
# pseudonym is looked at again (a pseudonym never becomes the input of another replacement).
# IPv6: hex digits and colons, at least two colons, bounded by characters that cannot continue an
# address (so ``arn:aws:iam::123456789012:root`` and times like ``T11:53:27Z`` are not candidates);
# ``ipaddress`` decides. IPv4: four dotted numbers not inside a longer dotted number (``1.2.3.4.5``),
# also right after a URL escape (``%2210.1.2.3``) or after a word and a dot (``host.10.1.2.3``);
# ``v4url``: with URL-encoded dots (``10%2E1%2E2%2E3``, ``host%2E10%2E1%2E2%2E3``), the same rule.
# Organization, root and OU ids in lower or upper case (``O-FL5LWBIAJ7``), not mixed. Dashed: four
# or more dashed numbers as long as they go, with a prefix length if one follows (an address with
# the numbers around it, an account id ``768-611-143-949``, ``111122223333-10-1-2-3``: see
# :meth:`Redactor._dashed`); grouped: an account id as people write it (``7686 1114 3949``).
# Where two alternatives match at one place the first wins: ``192.168.100.200`` is an address,
# not an account.
# Every alternative starts with its first character (a class), lookbehinds after it, and ends with
# an empty group naming its kind (``m.lastgroup``): the engine skips an alternative on one test of
# that character, which keeps this pass, run on every string, about as fast as a simple search.
_TOKENS = re.compile(
    r"[0-9A-Fa-f:](?<![0-9A-Za-z:.][0-9A-Fa-f:])(?:(?<=:)|(?<=[0-9A-Fa-f])[0-9A-Fa-f]*:)"
    r"[0-9A-Fa-f]*:[0-9A-Fa-f:]*(?:/[0-9]{1,3})?(?![0-9A-Za-z:]|\.[0-9A-Za-z])(?P<v6>)"
    r"|[0-9](?:(?<![0-9.][0-9])|(?<=[A-Za-z_-]\.[0-9])|(?<=%[0-9A-Fa-f]{2}[0-9]))"
    r"[0-9]{0,2}\.(?:[0-9]{1,3}\.){2}[0-9]{1,3}(?:(?:/|%2[Ff])[0-9]{1,2})?(?![0-9]|\.[0-9])(?P<v4>)"
    r"|[0-9](?:(?<![0-9][0-9])|(?<=%[0-9A-Fa-f]{2}[0-9]))(?:(?<!%2[Ee][0-9])|(?<=[A-Za-z_-]%2[Ee][0-9]))"
    r"[0-9]{0,2}%2[Ee](?:[0-9]{1,3}%2[Ee]){2}[0-9]{1,3}(?:%2[Ff][0-9]{1,2})?(?![0-9]|%2[Ee][0-9])(?P<v4url>)"
    r"|[oO](?<![A-Za-z0-9-][oO])(?:(?<=o)u-[0-9a-z]{4,32}-[a-z0-9]{8,32}|(?<=O)U-[0-9A-Z]{4,32}-[A-Z0-9]{8,32})"
    r"(?![A-Za-z0-9_-])(?P<ou>)"
    r"|[rR](?<![A-Za-z0-9-][rR])(?:(?<=r)-[0-9a-z]{4,32}|(?<=R)-[0-9A-Z]{4,32})(?![A-Za-z0-9_-])(?P<root>)"
    r"|[oO](?<![A-Za-z0-9-][oO])(?:(?<=o)-[a-z0-9]{10,32}|(?<=O)-[A-Z0-9]{10,32})(?![A-Za-z0-9_-])(?P<org>)"
    rf"|{_DASHED_RUN.pattern}(?:(?:/|%2[Ff])[0-9]{{1,2}}(?![0-9]))?(?P<dashed>)"
    r"|[0-9](?<![0-9][0-9])[0-9]{11}(?![0-9])(?P<account>)"
    rf"|{_GROUPED.pattern}(?P<grouped>)")
# Three or more groups of digits with one separator throughout, as long as they go: where an
# account of the inputs hides in a longer one (``12:00 1234 5678 9012``, two ids in a row).
_SEPARATED_RUN = re.compile(r"[0-9](?<![0-9][0-9])[0-9]*+([- _.])[0-9]++(?:\1[0-9]++)+")
# The pre-scan's: an account id as 12 digits, or with separators.
_ACCOUNT_ANY = re.compile(r"[0-9](?<![0-9][0-9])(?:[0-9]{11}(?![0-9])|"
                          + "|".join(_grouped(sep) for sep in "- _.") + ")")
_URL_DOT = re.compile(r"%2[Ee]")
_URL_SLASH = re.compile(r"%2[Ff]")
_PREFIX_LENGTH = re.compile(r"(?:/|%2[Ff])[0-9]{1,2}$")  # a CIDR's /24 (or %2F24) after a dashed address

# A dotted token: labels of DNS characters (and ``*``, ``_``), not part of a longer one.
_DNS = re.compile(r"(?<![A-Za-z0-9*_.-])[A-Za-z0-9*_-]+(?:\.[A-Za-z0-9*_-]+)+")
# An AWS resource id inside a DNS label: ``vpce-0abc123-xyz12`` (an endpoint's own DNS name),
# ``ip-10-0-1-23`` (an instance's). ``vpce-svc-...`` is not one: a service id is AWS's and public.
_LABEL_ID = re.compile(
    r"(?<![A-Za-z0-9])(?:vpce|vpc|eni|subnet|sg|rtb|igw|eigw|nat|tgw|tgw-attach|pcx|acl|i|ami|vol|snap|vgw|cgw"
    r"|dopt|rslvr|fs|fsap|lb|elb)-[0-9a-f]{7,17}(?![0-9A-Za-z])")


def _embeds_id(label: str) -> bool:
    """A DNS label that embeds a resource id or a dashed address (``ip-10-0-1-23``)."""
    return bool(_LABEL_ID.search(label)) or ("-" in label and _holds_dashed_address(label))


# Load balancer DNS names embed the balancer's name and a hash: ``name-123.us-east-1.elb.amazonaws.com``
# (classic, application), ``name-0abc.elb.us-east-1.amazonaws.com`` (network, gateway).
_ELB_DNS = re.compile(r"(?:^|\.)elb\.amazonaws\.com(?:\.cn)?$|\.elb\.[a-z0-9-]+\.amazonaws\.com(?:\.cn)?$")
# Domains that are AWS's own: a private DNS name under one of them is not a customer's.
_AWS_DOMAINS = ("amazonaws.com", "amazonaws.com.cn", "api.aws", "on.aws", "aws.dev")
# The name inside an ELB ARN: ``loadbalancer/app/NAME/hash``, ``listener/net/NAME/...``, ``targetgroup/NAME/hash``.
_ELB_ARN_NAME = re.compile(
    r"(:(?:loadbalancer|listener|listener-rule)/(?:app|net|gwy)/|:targetgroup/)([A-Za-z0-9-]+)(?=/)")

# With ``names``: where a string is a name, by the key it sits under and the list or object that
# holds it (``accounts[].name``), and the prefix of its pseudonym: the record kinds' and nested
# lists' own (archviz.records). Prefixes never look like an AWS id (no ``vpc-``, no ``ou-``), so a
# reader does not take a pseudonym for a real resource.
_NAME_HOLDERS = {k.key: k.pseudonym for k in (*records.KINDS.values(), *records.NESTED.values()) if k.pseudonym}
# Fields that are a name wherever they sit: a kind's name field not called "name" (a security
# group's group_name), a connection's endpoint_name, and the OU names of an account's ou_path.
_NAME_FIELDS = {**{k.name: k.pseudonym for k in records.KINDS.values() if k.pseudonym and k.name != "name"},
                "endpoint_name": "name", "ou_path": "unit"}


def _name_kind(field: str | None, holder: str | None) -> str | None:
    """The kind of name a string is, from where it sits, or None when it is not a name."""
    if holder == "tags":
        return "name"  # a tag value: "name", like the Name tag's copy in the record's name field
    if field == "name":
        return _NAME_HOLDERS.get(holder)
    return _NAME_FIELDS.get(field)


def load_key(path: str | Path) -> bytes:
    """The bytes of a key file (one trailing newline dropped, so ``openssl rand -hex 32 > KEY``
    works). Every problem is one line naming the file; the key itself is never printed."""
    path = Path(path)
    advice = "make one with: openssl rand -hex 32 > KEY"
    info = regular_file(path, InputError, f"a redaction key is a file of at least {KEY_BYTES_MIN} bytes; {advice}")
    if info.st_size > KEY_BYTES_MAX:
        raise InputError(f"{path}: too large to be a redaction key (more than {KEY_BYTES_MAX} bytes)")
    try:
        with open(path, "rb") as f:
            data = f.read(KEY_BYTES_MAX + 1)
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}")
    if data.endswith(b"\n"):
        data = data[:-2] if data.endswith(b"\r\n") else data[:-1]
    if len(data) < KEY_BYTES_MIN:
        raise InputError(f"{path}: a redaction key needs at least {KEY_BYTES_MIN} bytes, this one has {len(data)} "
                         f"({advice})")
    return data


def derived_key(doc: dict) -> bytes:
    """The key used when none is given: a hash of the snapshot itself. The same input gives the
    same bytes (archviz's outputs are deterministic), yet without the original snapshot nobody
    can recompute it, so the pseudonyms cannot be reversed by trying candidate ids. The discovery
    records are hashed in the snapshot's own order (:func:`archviz.snapshot.normalize`), without
    the analysis, so a reordered or re-analysed copy of a snapshot gets the same key."""
    digest = hashlib.sha256(_KEY_CONTEXT)
    crawled = {k: v for k, v in doc.items() if k not in _DERIVED}  # what the model derives is no secret
    for piece in snapshot.chunks(snapshot.normalize(crawled)):  # a reordered snapshot: the same key
        digest.update(piece)
    return digest.digest()


class _Pseudonyms:
    """Original -> pseudonym for one kind of value, without collisions.

    ``candidate(original, n)`` proposes the n-th pseudonym of an original; a candidate already
    taken (an original of any input, or another original's pseudonym) is skipped for the next, so
    two originals never share a pseudonym and a pseudonym never reads as another original."""

    def __init__(self, candidate: Callable[[str, int], str], taken: set[str]):
        self._candidate = candidate
        self._taken = taken
        self.known: dict[str, str] = {}

    def reserve(self, originals: Iterable[str]) -> None:
        """Assign in sorted order, so the mapping depends on the set of originals, not on the
        order they were met in."""
        self._taken.update(originals)
        for original in sorted(originals):
            self[original]

    def __getitem__(self, original: str) -> str:
        found = self.known.get(original)
        if found is None:
            self._taken.add(original)  # one the pre-scan did not see (value() of something else)
            n = 0
            found = self._candidate(original, n)
            while found in self._taken:
                n += 1
                found = self._candidate(original, n)
            self._taken.add(found)
            self.known[original] = found
        return found


class _PrefixPreserving:
    """Crypto-PAn with HMAC-SHA256 as the pseudorandom function: output bit i is input bit i
    flipped by the first bit of HMAC(key, label + the input's first i bits). Two addresses that
    share an n-bit prefix share the n-bit prefix of their pseudonyms, so subnets, containment and
    overlap survive. Flips are cached per prefix down to ``cached_bits`` (where addresses share
    prefixes); deeper bits are computed per address (each address is cached by the caller)."""

    def __init__(self, key: bytes, label: str, bits: int, cached_bits: int):
        self._key = key
        self._label = label.encode()
        self.bits = bits
        self._cached_bits = cached_bits
        self._flips: dict[str, int] = {}

    def _flip(self, prefix: str) -> int:
        return hmac.digest(self._key, self._label + prefix.encode(), "sha256")[0] >> 7

    def __call__(self, address: int) -> int:
        bits = format(address, f"0{self.bits}b")
        out = 0
        for i in range(self.bits):
            prefix = bits[:i]
            if i < self._cached_bits:
                flip = self._flips.get(prefix)
                if flip is None:
                    flip = self._flips[prefix] = self._flip(prefix)
            else:
                flip = self._flip(prefix)
            out = (out << 1) | ((bits[i] == "1") ^ flip)
        return out

    def network(self, address: int, prefix_len: int) -> int:
        """The pseudonym of a network: its address's, masked to the prefix (valid notation)."""
        host_bits = self.bits - prefix_len
        return (self(address) >> host_bits) << host_bits if prefix_len else 0


def _base36(data: bytes, length: int) -> str:
    n = int.from_bytes(data, "big")
    out = []
    for _ in range(length):
        n, d = divmod(n, 36)
        out.append("0123456789abcdefghijklmnopqrstuvwxyz"[d])
    return "".join(out)


_Place = tuple[str, str | None, str | None]  # a string, the key it sits under, the key of its holder


def _strings(x: Any, field: str | None = None, holder: str | None = None) -> Iterator[_Place]:
    """Every string of a JSON value (dict keys included, with no place), with the key it sits under
    and the key of the object or list holding it. Iterative: depth costs no recursion."""
    stack = [(x, field, holder)]
    while stack:
        value, field, holder = stack.pop()
        if isinstance(value, str):
            yield value, field, holder
        elif isinstance(value, dict):
            for k, v in value.items():
                yield k, None, None
                stack.append((v, k, field))
        elif isinstance(value, list):
            stack.extend((v, field, holder) for v in value)
        elif type(value) is int and 10**11 <= value < 10**12:  # an account id as a number: text for the pre-scan
            yield str(value), None, None


_LONG_DIGITS = re.compile(r"[0-9]{13,}")
_NOT_DIGITS = re.compile(r"[^0-9]")


def _organization_ids(doc: dict) -> set[str]:
    """The organization, root and OU ids a snapshot names (its organization, its accounts' OUs,
    the OUs a crawl was asked for)."""
    org = doc.get("organization") if isinstance(doc.get("organization"), dict) else {}
    units = [u for u in org.get("organizational_units") or [] if isinstance(u, dict)]
    scope = doc.get("scope") if isinstance(doc.get("scope"), dict) else {}
    found = [org.get("id"), org.get("root_id"), *(u.get("id") for u in units), *(u.get("parent_id") for u in units),
             *(a.get("ou_id") for a in doc.get("accounts") or [] if isinstance(a, dict)), *(scope.get("ou_ids") or [])]
    return {i for i in found if isinstance(i, str) and re.fullmatch(r"(o|r|ou)-[0-9a-z-]{4,70}", i)}


def _aws_domain(name: str) -> bool:
    return any(name == d or name.endswith("." + d) for d in _AWS_DOMAINS)


def _custom_domains(doc: dict) -> set[str]:
    """The private DNS names of services that are not AWS's (lower case, without a leading
    ``*.``): endpoint services' own, the consumer's view of a service not owned by Amazon, and
    endpoints' DNS names that are neither AWS's nor an endpoint's generated name."""
    found = [s.get("private_dns_name") for s in doc.get("endpoint_services") or [] if isinstance(s, dict)]
    found += [d.get("private_dns_name") for d in doc.get("service_details") or []
              if isinstance(d, dict) and d.get("owner") != "amazon"]
    for e in doc.get("endpoints") or []:
        names = e.get("dns_names") if isinstance(e, dict) else None
        if isinstance(names, list):
            found += [n for n in names if isinstance(n, str) and not _embeds_id(n.split(".")[0])]
    domains = set()
    for name in found:
        if isinstance(name, str) and "." in name:
            name = name.lower().removeprefix("*.")
            if "." in name and not _aws_domain(name):
                domains.add(name)
    return domains


class Redactor:
    """One mapping from originals to pseudonyms, applied to any number of snapshots or values.

    Build it with :meth:`build` from every snapshot it will redact: the pre-scan makes the
    mapping collision-free across all of them (two snapshots redacted together can be compared,
    or diffed, through one renaming)."""

    def __init__(self, key: bytes, names: bool = False):
        if len(key) < KEY_BYTES_MIN:
            raise InputError(f"a redaction key needs at least {KEY_BYTES_MIN} bytes, this one has {len(key)}")
        self._key = key
        self.names = names
        self._texts: dict[str, str] = {}
        self._v4 = _PrefixPreserving(key, "ipv4:", 32, cached_bits=24)
        self._v6 = _PrefixPreserving(key, "ipv6:", 128, cached_bits=64)
        self.accounts = _Pseudonyms(self._account_candidate, set())
        self._taken_names: set[str] = set()  # one set: no pseudonym of one kind reads as a name of another
        self._names = {kind: _Pseudonyms(self._name_candidate(kind), self._taken_names)
                       for kind in ("account", "unit", "name")}
        self._domains = _Pseudonyms(self._name_candidate("domain", ".example"), self._taken_names)
        self._shapes: dict[tuple[str, str], str] = {}
        self._roots: frozenset[str] = frozenset()  # the roots the snapshots name (r-… is also a word)
        self._org_ids: list[str] = []  # organization, root and OU ids the snapshots name, longest first
        self._org_patterns: dict[str, re.Pattern] = {}  # one of them in any case (_glued)
        self._originals: frozenset[str] = frozenset()  # every 12-digit run of the inputs

    @classmethod
    def build(cls, docs: list[dict], key: bytes | None = None, names: bool = False) -> "Redactor":
        """Pre-scan ALL docs for originals (so collisions are avoided across all of them and two
        snapshots redacted together share one mapping). ``key`` None: derived from the first
        doc's content (:func:`derived_key`), so the same input gives the same bytes."""
        if key is None:
            if not docs:
                raise InputError("nothing to redact: no snapshot, and no key to derive one from")
            key = derived_key(docs[0])
        redactor = cls(key, names)
        texts: set[str] = set()
        found: dict[str, set[str]] = defaultdict(set)
        for doc in docs:
            for text, field, holder in _strings(doc):
                texts.add(text)
                kind = names and _name_kind(field, holder)
                if kind:
                    found[kind].add(text)
        runs = {run for text in texts for run in _ACCOUNT_ANY.findall(text)}
        originals = {run for run in runs if run.isdigit()}
        # accounts spelled with separators (7686-1114-3949) or split by format characters
        # (1111\u200b2222\u200b3333, read as text() reads them) are reserved too, so the mapping
        # does not depend on the order they are met in, and no pseudonym reads as one
        joined = {"".join(c for c in text if unicodedata.category(c) != "Cf")
                  for text in texts if not text.isprintable()}
        runs |= {run for text in joined for run in _ACCOUNT_ANY.findall(text)}
        redactor.accounts.reserve(originals | {_NOT_DIGITS.sub("", run) for run in runs - originals})
        redactor._originals = frozenset(originals)
        org_ids = set().union(*(_organization_ids(doc) for doc in docs))
        redactor._roots = frozenset(i for i in org_ids if i.startswith("r-"))
        redactor._org_ids = sorted(org_ids, key=lambda i: (-len(i), i))
        if names:
            found["name"].update(m.group(2) for text in texts if "elasticloadbalancing" in text
                                 for m in _ELB_ARN_NAME.finditer(text))
            domains = set().union(*(_custom_domains(doc) for doc in docs))
            redactor._taken_names.update(domains, *found.values())
            for kind, originals in sorted(found.items()):
                redactor._names[kind].reserve(originals)
            redactor._domains.reserve(domains)
        return redactor

    # --- the public face ------------------------------------------------------------------------

    def value(self, x: Any, field: str | None = None) -> Any:
        """A redacted copy of any JSON value: strings and dict keys rewritten, the rest copied.

        With ``names``, a name is recognised by where it sits (``accounts[].name``, ``tags``,
        ``endpoint_name``...): pass the key a fragment sits under as ``field`` (``"endpoints"``
        for a list of endpoints) when it is not a whole snapshot. Free text (a finding's message)
        keeps its names: :meth:`snapshot` rebuilds findings from redacted records instead."""
        return self._walk(x, field, None)

    def snapshot(self, doc: dict) -> dict:
        """A redacted copy of a snapshot: connections/findings/analysis are dropped, discovery
        records redacted, and if the input had ``analysis``, the model is re-run on the redacted
        records with the input's analysis settings redacted too, so finding messages are built from
        redacted names. Sorted with snapshot.normalize. Adds nothing that could identify the
        original: the SHA-256 of merged inputs become keyed pseudonyms too."""
        from archviz import model  # the model does not need redaction: imported where used

        out = self._walk({k: v for k, v in doc.items() if k not in _DERIVED}, None, None)
        scope = doc.get("scope")
        if isinstance(scope, dict) and isinstance(scope.get("merged_from"), list):
            out["scope"]["merged_from"] = sorted(self._digest(h) for h in scope["merged_from"])
        snapshot.normalize(out)
        if "analysis" in doc:
            settings = doc["analysis"] if isinstance(doc["analysis"], dict) else {}
            trusted = self.value(list(settings.get("trusted_accounts") or []))
            links = self.value(dict(settings.get("marketplace_links") or {}))
            model.apply(out, trusted_accounts=frozenset(trusted), marketplace_links=links)
        return out

    # --- the walk -------------------------------------------------------------------------------

    def _walk(self, x: Any, field: str | None, holder: str | None) -> Any:
        """Recursive on purpose: a snapshot nests about 12 levels, and a call per value is the
        cheapest way to carry the key a value sits under (how a name is recognised)."""
        if isinstance(x, str):
            kind = _name_kind(field, holder) if self.names else None
            return self._names[kind][x] if kind and x else self.text(x)
        if isinstance(x, dict):
            return {self.text(k): self._walk(v, k, field) for k, v in x.items()}
        if isinstance(x, list):
            return [self._walk(v, field, holder) for v in x]
        if type(x) is int and 10**11 <= x < 10**12:  # an account id written as a number (in a policy)
            return self.accounts[str(x)]
        return x

    def text(self, s: str) -> str:
        """One string redacted, ids and addresses inside it replaced, the rest kept (cached: a
        snapshot repeats the same ids, ARNs and service names thousands of times)."""
        out = self._texts.get(s)
        if out is None:
            if "-" in s and _UUID_HINT.search(s):  # a UUID: kept as it is, the text around it redacted
                out = "".join(piece if i % 2 else self._redacted(piece) for i, piece in enumerate(_UUID.split(s)))
            else:
                out = self._redacted(s)
            self._texts[s] = out
        return out

    def _redacted(self, s: str) -> str:
        """:meth:`text` without the cache, of a string that holds no UUID."""
        out = s if s.isprintable() else self._joined(s)  # format characters are not printable
        if "." in out:
            out = _DNS.sub(self._dns, out)
        if self.names and "elasticloadbalancing" in out:
            out = _ELB_ARN_NAME.sub(lambda m: m.group(1) + self._names["name"][m.group(2)], out)
        return self._glued(_TOKENS.sub(self._token, out))

    def _joined(self, s: str) -> str:
        """``s`` without the format characters (Unicode category Cf: zero-width spaces and
        joiners, U+2060, soft hyphens, direction marks) that split a value redaction replaces:
        ``1111\u200b2222\u200b3333`` reads as an account id and is one, so the characters inside
        it are dropped and the passes of :meth:`text` see it whole. A value is what one of them
        would replace in ``s`` without its format characters: a token, a DNS name, an account of
        the inputs in a longer number, an organization, root or OU id of the inputs glued to text
        or in mixed case (:meth:`_glued`). Format characters anywhere else are kept (an emoji's
        joiner, a soft hyphen in a word)."""
        keep = [i for i, c in enumerate(s) if unicodedata.category(c) != "Cf"]
        if len(keep) == len(s):
            return s  # not printable for another reason (a newline, a tab)
        stripped = "".join(s[i] for i in keep)
        passes: list[tuple[re.Pattern, Callable[[re.Match], str]]] = [(_TOKENS, self._token), (_DNS, self._dns)]
        if self._originals:
            passes += [(_LONG_DIGITS, self._digits), (_SEPARATED_RUN, self._separated)]
        if self._org_ids:  # an organization, root or OU id of the inputs, in any case, glued to text (_glued)
            lowered = stripped.lower()
            passes += [(self._org_pattern(ident), lambda m: "") for ident in self._org_ids if ident in lowered]
        spans = []
        for pattern, replace in passes:
            for m in pattern.finditer(stripped):
                start, end = keep[m.start()], keep[m.end() - 1] + 1
                if end - start != m.end() - m.start() and replace(m) != m.group():  # split, and replaced
                    spans.append((start, end))
        out, last = [], 0
        for start, end in sorted(spans):  # a DNS name holds tokens: spans that overlap are one
            start = max(start, last)
            if end > start:
                out += [s[last:start], "".join(c for c in s[start:end] if unicodedata.category(c) != "Cf")]
                last = end
        return "".join(out) + s[last:]

    def _glued(self, text: str) -> str:
        """What the token boundaries let through: an account id of the inputs inside a longer
        run of digits (``%22111122223333%22``), an organization, root or OU id of the inputs glued
        to other text (``o-abcdefghij_x``, ``O-ABCDEFGHIJ_X``). Only ids the snapshots hold:
        nothing is guessed."""
        if self._originals:
            if _LONG_DIGITS.search(text):
                text = _LONG_DIGITS.sub(self._digits, text)
            text = _SEPARATED_RUN.sub(self._separated, text)
        if self._org_ids:
            lowered = text.lower()
            for ident in self._org_ids:
                if ident in lowered:
                    pseudonym = _TOKENS.sub(self._token, ident)
                    text = self._org_pattern(ident).sub(
                        lambda m: pseudonym.upper() if m.group().isupper() else pseudonym, text)
                    lowered = text.lower()
        return text

    def _org_pattern(self, ident: str) -> re.Pattern:
        """An organization, root or OU id of the inputs, in any case."""
        found = self._org_patterns.get(ident)
        if found is None:
            found = self._org_patterns[ident] = re.compile(re.escape(ident), re.IGNORECASE)
        return found

    def _digits(self, m: re.Match) -> str:
        """A run of 13 or more digits: the accounts of the inputs in it replaced, left to right."""
        run, known, out = m.group(), self._originals, []
        i = last = 0
        while i <= len(run) - 12:
            if run[i:i + 12] in known:
                out += [run[last:i], self.accounts[run[i:i + 12]]]
                i = last = i + 12
            else:
                i += 1
        return "".join(out) + run[last:] if out else run

    def _separated(self, m: re.Match) -> str:
        """Groups of digits with one separator, more than 12 digits in all: the accounts of the
        inputs in it, each as whole groups (``1234 5678 9012`` in ``00 1234 5678 9012``), replaced
        left to right."""
        run, sep = m.group(), m.group(1)
        groups = run.split(sep)
        if sum(map(len, groups)) <= 12:
            return run  # the tokens' (an account id, an address) or a shorter number
        out, i = [], 0
        while i < len(groups):
            j, n = i, 0
            while j < len(groups) and n < 12:
                n, j = n + len(groups[j]), j + 1
            if n == 12 and j - i >= 3 and "".join(groups[i:j]) in self._originals:
                out.append(self._respelled(sep.join(groups[i:j])))
                i = j
            else:
                out.append(groups[i])
                i += 1
        return sep.join(out)

    # --- the pseudonyms -------------------------------------------------------------------------

    def _mac(self, message: str) -> bytes:
        return hmac.digest(self._key, message.encode("utf-8", "surrogatepass"), "sha256")

    def _account_candidate(self, account: str, n: int) -> str:
        return f"{int.from_bytes(self._mac(f'account:{account}' + (f':{n}' if n else '')), 'big') % 10**12:012d}"

    def _name_candidate(self, kind: str, suffix: str = "") -> Callable[[str, int], str]:
        def candidate(name: str, n: int) -> str:
            return f"{kind}-{self._mac(f'{kind}:{name}' + (f':{n}' if n else '')).hex()[:6]}{suffix}"
        return candidate

    def _shape(self, kind: str, original: str) -> str:
        """``original`` (lower-case letters and digits) replaced by as many keyed ones."""
        found = self._shapes.get((kind, original))
        if found is None:
            found = self._shapes[(kind, original)] = _base36(self._mac(f"{kind}:{original}"), len(original))
        return found

    def _digest(self, sha256: str) -> str:
        """A keyed pseudonym for a SHA-256 (a merged input's): 64 hex digits, never holding a run
        of 12 digits that would read as an account id."""
        n = 0
        while True:
            found = self._mac(f"sha256:{sha256}" + (f":{n}" if n else "")).hex()
            if not _ACCOUNT.search(found):
                return found
            n += 1

    # --- the replacements -----------------------------------------------------------------------

    def _dns(self, m: re.Match) -> str:
        """A dotted token: an endpoint's or a load balancer's DNS name loses its first label (which
        embeds the endpoint id, or the balancer's name and a hash); with ``names``, a custom
        private DNS name becomes ``domain-<hex>.example``. Anything else is left to the tokens."""
        token = m.group()
        labels = token.split(".")
        lower = token.lower()
        first = 0  # the label that names the endpoint or balancer: after a wildcard or "dualstack"
        while first < len(labels) - 2 and labels[first].lower() in ("*", "dualstack"):
            first += 1
        if (_ELB_DNS.search(lower) or _embeds_id(labels[first])
                or _ACCOUNT.search(labels[first]) or _GROUPED_LABEL.search(labels[first])):
            labels[first] = "h-" + self._mac(f"dns:{labels[first]}").hex()[:10]
        if self.names and self._domains.known:
            lowered = lower.split(".")
            for i in range(len(labels) - 1):
                suffix = ".".join(lowered[i:])
                if suffix in self._domains.known:
                    labels[i:] = [self._domains[suffix]]
                    break
        return ".".join(labels)

    def _token(self, m: re.Match) -> str:
        kind, text = m.lastgroup, m.group()
        if kind == "account":
            return self.accounts[text]
        if kind == "grouped":
            return self._respelled(text)
        if kind == "v4" and "%" not in text:
            return self._address(text, self._v4, ipaddress.IPv4Address)
        if kind in ("v4", "v4url"):  # the dots (and slash) encoded as they were: 10%2E1%2E2%2E3, 10.1.2.0%2F24
            dot, slash = _URL_DOT.search(text), _URL_SLASH.search(text)
            plain = _URL_SLASH.sub("/", _URL_DOT.sub(".", text))
            mapped = self._address(plain, self._v4, ipaddress.IPv4Address)
            if mapped == plain:
                return text
            return mapped.replace(".", dot.group() if dot else ".").replace("/", slash.group() if slash else "/")
        if kind == "v6":
            if text.endswith(":") and not text.endswith("::"):  # "…connect to fd00::6: refused"
                return self._address(text[:-1], self._v6, ipaddress.IPv6Address) + ":"
            return self._address(text, self._v6, ipaddress.IPv6Address)
        if kind == "dashed":  # an address in a host name outside a DNS name: ``ip-10-1-2-3``, ``db1-10-1-2-3``
            length = _PREFIX_LENGTH.search(text)
            run = text[:length.start()] if length else text
            return self._dashed(run.split("-"), _glued_to_letter(m.string, m.start()), length.group() if length else "")
        upper = not text.islower()  # O-FL5LWBIAJ7: the lower-case id's pseudonym, in upper case
        lowered = text.lower()
        if kind == "org":
            out = "o-" + self._shape("org", lowered[2:])
        elif kind == "root":  # only roots the snapshots name: "r-studio" in a tag is a word
            if lowered not in self._roots:
                return text
            out = "r-" + self._shape("root", lowered[2:])
        else:
            _ou, root, unit = lowered.split("-")  # ou-<the root's part>-<the unit's part>
            out = f"ou-{self._shape('root', root)}-{self._shape('ou', unit)}"
        return out.upper() if upper else out

    def _dashed(self, groups: list[str], glued: bool, length: str = "") -> str:
        """Four or more dashed numbers (see _DASHED_RUN), and the prefix length that follows them
        (``/24``, ``%2F24``) if any: an account id (``768-611-143-949``, twelve digits in any
        grouping, or an account the snapshots name), else the address in them
        (:func:`_dashed_address`, a network when the length follows it) with the numbers around it
        kept (but for 12-digit runs, and for another address among them), else kept."""
        run = "-".join(groups)
        digits = run.replace("-", "")
        if len(digits) == 12 and digits in self._originals:
            return self._respelled(run) + length  # 123-145-167-189: an account the snapshots name, not an address
        at = _dashed_address(groups, glued, self._originals)
        if len(digits) == 12 and (len(groups) > 4 or at is None) and _GROUPED.fullmatch(run):
            return self._respelled(run) + length  # 768-611-143-949, 12-34-56-78-90-12: no address, an account id
        if at is None:
            return _ACCOUNT.sub(lambda a: self.accounts[a.group()], run) + length  # 300-1-1-1: neither
        octets, before, after = groups[at:at + 4], groups[:at], groups[at + 4:]
        if "".join(octets) in self._originals and len("".join(octets)) == 12:
            address = self._respelled("-".join(octets))
        elif length and not after:  # 10-1-2-0/24: a network
            slash = length[:3] if length[0] == "%" else "/"  # %2F or %2f, as written
            plain = ".".join(octets) + "/" + length[len(slash):]
            address = self._address(plain, self._v4, ipaddress.IPv4Address).replace(".", "-").replace("/", slash)
            length = ""
        else:
            address = self._address(".".join(octets), self._v4, ipaddress.IPv4Address).replace(".", "-")
        return "-".join(([self._dashed(before, glued)] if before else []) + [address]
                        + ([self._dashed(after, False, length)] if after else [])) + ("" if after else length)

    def _respelled(self, text: str) -> str:
        """An account id written with separators (``768-611-143-949``): its pseudonym, written
        with the same ones."""
        digits = iter(self.accounts[_NOT_DIGITS.sub("", text)])
        return "".join(next(digits) if "0" <= c <= "9" else c for c in text)

    def _address(self, text: str, prf: _PrefixPreserving, parse: type) -> str:
        """An address or a CIDR. Not an address after all (``11:53:27``, ``300.1.1.1``): the text
        is kept, but for account ids inside it."""
        address, slash, length = text.partition("/")
        if (parse is ipaddress.IPv4Address and not slash and len(text) == 15
                and text.replace(".", "") in self._originals):
            return self._respelled(text)  # 123.145.167.189: an account the snapshots name, written with dots
        try:
            parsed = parse(address if parse is ipaddress.IPv6Address else
                           ".".join(str(int(octet)) for octet in address.split(".")))
        except ValueError:
            if parse is ipaddress.IPv4Address and not slash and _GROUPED.fullmatch(text):
                return self._respelled(text)  # 768.611.143.949: no address, an account id
            return _ACCOUNT.sub(lambda a: self.accounts[a.group()], text)
        if address == "::" and not slash:
            return text  # the unspecified address reveals nothing
        if slash and int(length) == 0:
            if text in ("0.0.0.0/0", "::/0"):
                return text  # everyone: reveals nothing, and the open-ingress rule reads it as written
            return f"{parse(prf(int(parsed)))}/{length}"  # "10.0.0.0/0" must not become "0.0.0.0/0"
        if slash and int(length) <= prf.bits:
            return f"{parse(prf.network(int(parsed), int(length)))}/{int(length)}"
        return f"{parse(prf(int(parsed)))}{slash}{length}"


def from_options(docs: list[dict], key_path: str | Path | None = None, names: bool = False) -> Redactor:
    """The redactor ``--redact [--redact-key FILE] [--redact-names]`` (or the MkDocs plugin's
    ``redact`` settings) ask for, over every snapshot one output shows."""
    return Redactor.build(docs, load_key(key_path) if key_path else None, names)


def redact(doc: dict, key: bytes | None = None, names: bool = False) -> dict:
    """A redacted copy of one snapshot (see :class:`Redactor`)."""
    return Redactor.build([doc], key, names).snapshot(doc)
