"""What redaction looks for in text: account ids (alone, grouped or split by format characters),
IPv4 addresses (dotted, dashed, URL-encoded), DNS names that embed an id, AWS's own domains and
the spans never rewritten (UUIDs, dates); and which fields hold names."""

from __future__ import annotations

import re

from archviz import records

KEY_BYTES_MIN = 16
KEY_BYTES_MAX = 64 * 1024
KEY_CONTEXT = b"archviz-redact-v1\0"

# What a snapshot derives from its records: dropped, and recomputed from the redacted records.
DERIVED = records.DERIVED

ACCOUNT = re.compile(r"(?<![0-9])[0-9]{12}(?![0-9])")


_DAY, _MONTH = r"(?:0[1-9]|[12][0-9]|3[01])", r"(?:0[1-9]|1[0-2])"
_YEAR = r"(?:19|20)[0-9]{2}(?![0-9])"
_HOUR, _MINUTE = r"(?:[01][0-9]|2[0-3])", r"[0-5][0-9]"


def _grouped(sep: str) -> str:
    """Twelve digits in three or more groups with one separator throughout (``768-611-143-949``,
    ``7686 1114 3949``), not part of a longer grouped number, and not led by a date
    (``2026-12-03-10-00``, ``03-12-2026-1000``, ``12-25-2026-1000``) nor a date and time with a
    two-digit year (``26-12-03-10-00-00``: only whole, as ``10-10-10-10-8080`` is an address and a
    port). Two groups are not enough: ``20261203-1000`` is a time, ``1714567890.12`` a number. The
    pattern after the first digit (see TOKENS)."""
    s = re.escape(sep)
    date = rf"[0-9]{{2}}{s}{_MONTH}{s}{_DAY}{s}"  # 2026-12-03-..., after the "2"
    day = r"(?:(?<=0)[1-9]|(?<=[12])[0-9]|(?<=3)[01])"  # the second digit of a day
    month = r"(?:(?<=0)[1-9]|(?<=1)[0-2])"
    dates = (rf"(?<=1)9{date}|(?<=2)0{date}"  # YYYY-MM-DD-
             rf"|[0-9]{s}{_MONTH}{s}{_DAY}{s}{_HOUR}{s}{_MINUTE}{s}{_MINUTE}(?![0-9]|{s}[0-9])"  # YY-MM-DD-hh-mm-ss
             rf"|{day}{s}{_MONTH}{s}{_YEAR}|{month}{s}{_DAY}{s}{_YEAR}")  # DD-MM-YYYY, MM-DD-YYYY
    return (rf"(?<![0-9]{s}[0-9])(?=[0-9]*{s}[0-9]+{s}[0-9])(?!{dates})"
            rf"{s}?(?:[0-9]{s}?){{10}}[0-9](?![0-9]|{s}[0-9])")


GROUPED = re.compile(r"[0-9](?<![0-9][0-9])(?:" + "|".join(_grouped(sep) for sep in "- _.") + ")")
# The same, with the separators a DNS label can hold (a first label like 1234-5678-9012.dkr...).
GROUPED_LABEL = re.compile(r"[0-9](?<![0-9][0-9])(?:" + "|".join(_grouped(sep) for sep in "-_") + ")")
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|[01]?[0-9]{1,2})"
_OCTET_ONLY = re.compile(_OCTET)
# Four or more numbers separated by dashes, as long as they go (a dashed address with any prefix,
# ``ip-10-1-2-3``, ``db1-10-1-2-3``, ``10-1-2-3-80``; an account id ``768-611-143-949``):
# :func:`dashed_address` decides which four of them, if any, are an address.
_DASHED_RUN = re.compile(r"[0-9](?<![0-9][0-9])(?<![0-9]-[0-9])[0-9]*+(?:-[0-9]++){3,}+")
# A run of dashed numbers led by a date (YYYY-MM-DD-, DD-MM-YYYY, MM-DD-YYYY), or that is a date and
# time with a two-digit year (YY-MM-DD-hh-mm, YY-MM-DD-hh-mm-ss; led by one is not enough:
# ``10-10-10-10-8080`` is an address and a port).
_DATE_LED = re.compile(rf"(?:19|20)[0-9]{{2}}-{_MONTH}-{_DAY}-|(?:{_DAY}-{_MONTH}|{_MONTH}-{_DAY})-{_YEAR}"
                       rf"|[0-9]{{2}}-{_MONTH}-{_DAY}-{_HOUR}-{_MINUTE}(?:-{_MINUTE})?$")
# A UUID (a KMS key id, a request id): never rewritten, though its groups can read as an account id
# (``4a1b2c3d-1234-5678-9012-abcdef012345``, about one random UUID in 1,600).
UUID = re.compile(r"([0-9A-Fa-f](?<![0-9A-Za-z][0-9A-Fa-f])[0-9A-Fa-f]{7}(?:-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}"
                   r"(?![0-9A-Za-z]))")
UUID_HINT = re.compile(r"-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-")  # led by a literal: a fast scan


def _private(octets: list[str]) -> bool:
    """10/8, 172.16/12, 192.168/16, 100.64/10 (shared) or 169.254/16 (link-local): what a host name
    that embeds an address usually embeds."""
    a, b = int(octets[0]), int(octets[1])
    return a == 10 or (a, b >> 4) == (172, 1) or (a, b) in ((192, 168), (169, 254)) or (a == 100 and 64 <= b < 128)


def dashed_address(groups: list[str], glued: bool, accounts: frozenset[str] = frozenset()) -> int | None:
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


def glued_to_letter(text: str, start: int) -> bool:
    return start > 0 and ("a" <= text[start - 1].lower() <= "z")


def _holds_dashed_address(label: str) -> bool:
    """A DNS label with a dashed address in it (``ip-10-1-2-3``, ``node2-10-1-2-3``)."""
    return any(dashed_address(m.group().split("-"), glued_to_letter(label, m.start())) is not None
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
TOKENS = re.compile(
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
    rf"|{GROUPED.pattern}(?P<grouped>)")
# Three or more groups of digits with one separator throughout, as long as they go: where an
# account of the inputs hides in a longer one (``12:00 1234 5678 9012``, two ids in a row).
SEPARATED_RUN = re.compile(r"[0-9](?<![0-9][0-9])[0-9]*+([- _.])[0-9]++(?:\1[0-9]++)+")
# The pre-scan's: an account id as 12 digits, or with separators.
ACCOUNT_ANY = re.compile(r"[0-9](?<![0-9][0-9])(?:[0-9]{11}(?![0-9])|"
                          + "|".join(_grouped(sep) for sep in "- _.") + ")")
URL_DOT = re.compile(r"%2[Ee]")
URL_SLASH = re.compile(r"%2[Ff]")
PREFIX_LENGTH = re.compile(r"(?:/|%2[Ff])[0-9]{1,2}$")  # a CIDR's /24 (or %2F24) after a dashed address

# A dotted token: labels of DNS characters (and ``*``, ``_``), not part of a longer one.
DNS = re.compile(r"(?<![A-Za-z0-9*_.-])[A-Za-z0-9*_-]+(?:\.[A-Za-z0-9*_-]+)+")
# An AWS resource id inside a DNS label: ``vpce-0abc123-xyz12`` (an endpoint's own DNS name),
# ``ip-10-0-1-23`` (an instance's). ``vpce-svc-...`` is not one: a service id is AWS's and public.
_LABEL_ID = re.compile(
    r"(?<![A-Za-z0-9])(?:vpce|vpc|eni|subnet|sg|rtb|igw|eigw|nat|tgw|tgw-attach|pcx|acl|i|ami|vol|snap|vgw|cgw"
    r"|dopt|rslvr|fs|fsap|lb|elb)-[0-9a-f]{7,17}(?![0-9A-Za-z])")


def embeds_id(label: str) -> bool:
    """A DNS label that embeds a resource id or a dashed address (``ip-10-0-1-23``)."""
    return bool(_LABEL_ID.search(label)) or ("-" in label and _holds_dashed_address(label))


# Load balancer DNS names embed the balancer's name and a hash: ``name-123.us-east-1.elb.amazonaws.com``
# (classic, application), ``name-0abc.elb.us-east-1.amazonaws.com`` (network, gateway).
ELB_DNS = re.compile(r"(?:^|\.)elb\.amazonaws\.com(?:\.cn)?$|\.elb\.[a-z0-9-]+\.amazonaws\.com(?:\.cn)?$")
# Domains that are AWS's own: a private DNS name under one of them is not a customer's.
AWS_DOMAINS = ("amazonaws.com", "amazonaws.com.cn", "api.aws", "on.aws", "aws.dev")
# The name inside an ELB ARN: ``loadbalancer/app/NAME/hash``, ``listener/net/NAME/...``, ``targetgroup/NAME/hash``.
ELB_ARN_NAME = re.compile(
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


def name_kind(field: str | None, holder: str | None) -> str | None:
    """The kind of name a string is, from where it sits, or None when it is not a name."""
    if holder == "tags":
        return "name"  # a tag value: "name", like the Name tag's copy in the record's name field
    if field == "name":
        return _NAME_HOLDERS.get(holder)
    return _NAME_FIELDS.get(field)
