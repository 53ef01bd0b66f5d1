"""Errors that the command line turns into one line and a documented exit code: every exit code
archviz returns is defined here, and only here (:data:`EXIT_CODES`; the README's table is checked
against it by tests/test_errors.py)."""


def some(items: list[str], n: int = 5) -> str:
    """The first ``n`` items, and how many more: a long list named in a one-line message."""
    more = f" and {len(items) - n} more" if len(items) > n else ""
    return ", ".join(items[:n]) + more


class ArchvizError(Exception):
    """An expected failure: reported as one line, never as a traceback."""

    exit_code = 1


class InputError(ArchvizError):
    """Bad arguments or a bad input file."""

    exit_code = 2


class SnapshotError(InputError):
    """A snapshot that is missing, unreadable, not JSON or not valid against the schema."""

    exit_code = 3


class AccessError(ArchvizError):
    """The caller's own credentials cannot do what the run needs (nothing could be crawled)."""

    exit_code = 4


class EndpointError(ArchvizError):
    """AWS could not be reached (no network, a proxy, a wrong endpoint URL, a TLS certificate not
    trusted): nothing could be crawled."""

    exit_code = 9


class IncompleteCrawl(ArchvizError):
    """With --strict: some account-region units failed (the snapshot is still written)."""

    exit_code = 5


class ReadOnlyViolation(ArchvizError):
    """An AWS operation not on the allowlist (discovery/permissions.py) was attempted; it was not sent."""

    exit_code = 6


class ReplayError(InputError):
    """Recorded AWS answers (discover --replay) that cannot rebuild the crawl: a call that was not
    recorded, or a file that is not a raw folder's."""


class VerificationError(ArchvizError):
    """archviz verify: the pack does not hold: a file altered, added or removed, a bad signature,
    or a snapshot or findings file its raw answers do not derive."""

    exit_code = 7


class DriftFound(ArchvizError):
    """archviz diff --fail-on: a change of a kind it names was found (the diff is still written)."""

    exit_code = 8


SUCCESS = 0
INTERRUPTED = 130  # Ctrl-C (128 + SIGINT), as shells report it


def exit_codes() -> dict[int, str]:
    """Every exit code the command line returns, with what it means (the first line of its error's
    docstring)."""
    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    codes = {SUCCESS: "success", ArchvizError.exit_code: ArchvizError.__doc__, INTERRUPTED: "interrupted"}
    for cls in subclasses(ArchvizError):
        if cls.__module__ == __name__:
            codes.setdefault(cls.exit_code, cls.__doc__)
    return {code: " ".join(text.split()) for code, text in sorted(codes.items())}
