"""The :class:`Redactor`: every string of a snapshot, keys included, at any depth, rewritten with
the pseudonyms of :mod:`.keys` wherever :mod:`.patterns` finds an id, an address or a name."""

from __future__ import annotations

import hmac
import ipaddress
import re
import unicodedata
from collections import defaultdict
from pathlib import Path
from typing import Any, Callable, Iterator

from archviz import snapshot
from archviz.errors import InputError
from archviz.redact.keys import PrefixPreserving, Pseudonyms, base36, derived_key, load_key
from archviz.redact.patterns import (KEY_BYTES_MIN, ACCOUNT, ACCOUNT_ANY, AWS_DOMAINS, DERIVED, DNS, ELB_ARN_NAME,
                                     ELB_DNS, GROUPED, GROUPED_LABEL, PREFIX_LENGTH, SEPARATED_RUN, TOKENS,
                                     URL_DOT, URL_SLASH, UUID, UUID_HINT, dashed_address, embeds_id,
                                     glued_to_letter, name_kind)

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
    return any(name == d or name.endswith("." + d) for d in AWS_DOMAINS)


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
            found += [n for n in names if isinstance(n, str) and not embeds_id(n.split(".")[0])]
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
        self._v4 = PrefixPreserving(key, "ipv4:", 32, cached_bits=24)
        self._v6 = PrefixPreserving(key, "ipv6:", 128, cached_bits=64)
        self.accounts = Pseudonyms(self._account_candidate, set())
        self._taken_names: set[str] = set()  # one set: no pseudonym of one kind reads as a name of another
        self._names = {kind: Pseudonyms(self._name_candidate(kind), self._taken_names)
                       for kind in ("account", "unit", "name")}
        self._domains = Pseudonyms(self._name_candidate("domain", ".example"), self._taken_names)
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
                kind = names and name_kind(field, holder)
                if kind:
                    found[kind].add(text)
        runs = {run for text in texts for run in ACCOUNT_ANY.findall(text)}
        originals = {run for run in runs if run.isdigit()}
        # accounts spelled with separators (7686-1114-3949) or split by format characters
        # (1111\u200b2222\u200b3333, read as text() reads them) are reserved too, so the mapping
        # does not depend on the order they are met in, and no pseudonym reads as one
        joined = {"".join(c for c in text if unicodedata.category(c) != "Cf")
                  for text in texts if not text.isprintable()}
        runs |= {run for text in joined for run in ACCOUNT_ANY.findall(text)}
        redactor.accounts.reserve(originals | {_NOT_DIGITS.sub("", run) for run in runs - originals})
        redactor._originals = frozenset(originals)
        org_ids = set().union(*(_organization_ids(doc) for doc in docs))
        redactor._roots = frozenset(i for i in org_ids if i.startswith("r-"))
        redactor._org_ids = sorted(org_ids, key=lambda i: (-len(i), i))
        if names:
            found["name"].update(m.group(2) for text in texts if "elasticloadbalancing" in text
                                 for m in ELB_ARN_NAME.finditer(text))
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

        out = self._walk({k: v for k, v in doc.items() if k not in DERIVED}, None, None)
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
            kind = name_kind(field, holder) if self.names else None
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
            if "-" in s and UUID_HINT.search(s):  # a UUID: kept as it is, the text around it redacted
                out = "".join(piece if i % 2 else self._redacted(piece) for i, piece in enumerate(UUID.split(s)))
            else:
                out = self._redacted(s)
            self._texts[s] = out
        return out

    def _redacted(self, s: str) -> str:
        """:meth:`text` without the cache, of a string that holds no UUID."""
        out = s if s.isprintable() else self._joined(s)  # format characters are not printable
        if "." in out:
            out = DNS.sub(self._dns, out)
        if self.names and "elasticloadbalancing" in out:
            out = ELB_ARN_NAME.sub(lambda m: m.group(1) + self._names["name"][m.group(2)], out)
        return self._glued(TOKENS.sub(self._token, out))

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
        passes: list[tuple[re.Pattern, Callable[[re.Match], str]]] = [(TOKENS, self._token), (DNS, self._dns)]
        if self._originals:
            passes += [(_LONG_DIGITS, self._digits), (SEPARATED_RUN, self._separated)]
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
            text = SEPARATED_RUN.sub(self._separated, text)
        if self._org_ids:
            lowered = text.lower()
            for ident in self._org_ids:
                if ident in lowered:
                    pseudonym = TOKENS.sub(self._token, ident)
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
            found = self._shapes[(kind, original)] = base36(self._mac(f"{kind}:{original}"), len(original))
        return found

    def _digest(self, sha256: str) -> str:
        """A keyed pseudonym for a SHA-256 (a merged input's): 64 hex digits, never holding a run
        of 12 digits that would read as an account id."""
        n = 0
        while True:
            found = self._mac(f"sha256:{sha256}" + (f":{n}" if n else "")).hex()
            if not ACCOUNT.search(found):
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
        if (ELB_DNS.search(lower) or embeds_id(labels[first])
                or ACCOUNT.search(labels[first]) or GROUPED_LABEL.search(labels[first])):
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
            dot, slash = URL_DOT.search(text), URL_SLASH.search(text)
            plain = URL_SLASH.sub("/", URL_DOT.sub(".", text))
            mapped = self._address(plain, self._v4, ipaddress.IPv4Address)
            if mapped == plain:
                return text
            return mapped.replace(".", dot.group() if dot else ".").replace("/", slash.group() if slash else "/")
        if kind == "v6":
            if text.endswith(":") and not text.endswith("::"):  # "…connect to fd00::6: refused"
                return self._address(text[:-1], self._v6, ipaddress.IPv6Address) + ":"
            return self._address(text, self._v6, ipaddress.IPv6Address)
        if kind == "dashed":  # an address in a host name outside a DNS name: ``ip-10-1-2-3``, ``db1-10-1-2-3``
            length = PREFIX_LENGTH.search(text)
            run = text[:length.start()] if length else text
            return self._dashed(run.split("-"), glued_to_letter(m.string, m.start()), length.group() if length else "")
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
        (:func:`dashed_address`, a network when the length follows it) with the numbers around it
        kept (but for 12-digit runs, and for another address among them), else kept."""
        run = "-".join(groups)
        digits = run.replace("-", "")
        if len(digits) == 12 and digits in self._originals:
            return self._respelled(run) + length  # 123-145-167-189: an account the snapshots name, not an address
        at = dashed_address(groups, glued, self._originals)
        if len(digits) == 12 and (len(groups) > 4 or at is None) and GROUPED.fullmatch(run):
            return self._respelled(run) + length  # 768-611-143-949, 12-34-56-78-90-12: no address, an account id
        if at is None:
            return ACCOUNT.sub(lambda a: self.accounts[a.group()], run) + length  # 300-1-1-1: neither
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

    def _address(self, text: str, prf: PrefixPreserving, parse: type) -> str:
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
            if parse is ipaddress.IPv4Address and not slash and GROUPED.fullmatch(text):
                return self._respelled(text)  # 768.611.143.949: no address, an account id
            return ACCOUNT.sub(lambda a: self.accounts[a.group()], text)
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
