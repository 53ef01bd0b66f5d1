"""Benchmark: rendering a large estate, as ``archviz render SNAPSHOT --out DIR`` does it (a script,
not a test).

    .venv/bin/python bench/render.py [--accounts 1000] [--endpoints 2000] [--regions 3] [--formats svg]

Builds the synthetic organization of ``bench/scale.py`` (OU tree included), saves it as a
snapshot and frees it; then loads, analyzes and renders it into a temporary folder, and prints
the wall time, the peak memory of the process and of its Graphviz children together, and of
every diagram the largest node count, the largest aspect ratio and the longest side in pixels
at 96 dpi (the limits are 80 nodes, 4:1 and 10,000 px). Then it checks the render as
``tests/test_render_scale.py`` checks smaller ones (``bench/readable.py``: every diagram within
those limits, every account's diagram reached from the overview) and exits 1 if it fails; this
is where the 1,000-account render is checked, as it is too slow for the test suite.

Peak memory, children included, is given two ways: the largest total RSS of this process and
its live children seen by a sampler every 20 ms, and a bound that cannot be exceeded: this
process's peak plus, per core, the largest Graphviz child's peak (at most one ``dot`` runs per
core at a time).
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from readable import assert_readable_at_scale  # noqa: E402  (bench/readable.py: the assertions tests make too)
from scale import REGIONS, Estate, mb, reset_peak  # noqa: E402  (bench/scale.py: the synthetic estate)

from archviz import model  # noqa: E402
from archviz import snapshot as snap  # noqa: E402


def _rss_kib(pid: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _children() -> list[str]:
    """The pids of this process's live children (every thread's, ``dot`` runs from a pool)."""
    pids = []
    for task in Path("/proc/self/task").iterdir():
        try:
            pids += (task / "children").read_text().split()
        except OSError:
            pass
    return pids


class Sampler(threading.Thread):
    """The largest total RSS (KiB) of this process and its children, sampled every 20 ms."""

    def __init__(self):
        super().__init__(daemon=True)
        self.peak, self.done = 0, threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.02):
            self.peak = max(self.peak, _rss_kib("self") + sum(_rss_kib(p) for p in _children()))


def build(args: argparse.Namespace, folder: Path) -> tuple[Path, dict]:
    start = time.perf_counter()
    estate = Estate(args.endpoints, args.accounts, REGIONS[: args.regions])
    path = snap.save(snap.validate(estate.build()), folder)
    print(f"{args.accounts} accounts x {args.regions} regions, {args.endpoints} endpoints: "
          f"{path.stat().st_size / 2**20:.0f} MB snapshot built in {time.perf_counter() - start:.1f} s; "
          f"{os.cpu_count()} cores", flush=True)
    return path, estate.marketplace_links()


def report(out: Path, site) -> None:
    """The largest node count, aspect ratio and side of any diagram (measured on the SVGs)."""
    from archviz.render.layout import size_px

    sizes = {f: size_px((out / f).read_bytes()) for f in site.files if f.endswith(".svg")}
    aspect = max(sizes, key=lambda f: max(sizes[f][0] / sizes[f][1], sizes[f][1] / sizes[f][0]))
    longest = max(sizes, key=lambda f: max(sizes[f]))
    nodes = max(site.nodes, key=site.nodes.get)
    w, h = sizes[aspect]
    groups = sum(f.startswith(("diagrams/ou-", "diagrams/group-")) for f in sizes)
    print(f"         {len(site.files)} files, {len(sizes)} SVG diagrams ({groups} of OUs and groups of accounts)")
    print(f"         largest node count {site.nodes[nodes]} ({nodes})")
    print(f"         largest aspect ratio {max(w / h, h / w):.2f}:1 ({aspect}, {w:.0f} x {h:.0f} px)")
    print(f"         longest side {max(sizes[longest]):.0f} px ({longest}, "
          f"{sizes[longest][0]:.0f} x {sizes[longest][1]:.0f} px)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--endpoints", type=int, default=2000)
    parser.add_argument("--regions", type=int, default=3, choices=range(1, len(REGIONS) + 1))
    parser.add_argument("--formats", default="svg", help="diagram formats, as --diagram-format (svg, png, mermaid)")
    parser.add_argument("--no-check", dest="check", action="store_false",
                        help="skip the readability assertions (bench/readable.py) that the render must pass")
    args = parser.parse_args()
    from archviz.render import render  # diagrams and Graphviz are heavy imports: not in the build

    with tempfile.TemporaryDirectory(prefix="archviz-bench-render-") as tmp:
        path, links = build(args, Path(tmp))
        gc.collect()
        exact = reset_peak()
        sampler = Sampler()
        sampler.start()
        start = time.perf_counter()
        doc = snap.load(path)
        doc.update(model.analyze(doc, marketplace_links=links))
        loaded = time.perf_counter() - start
        site = render(doc, Path(tmp) / "site", formats=tuple(args.formats.split(",")))
        wall = time.perf_counter() - start
        sampler.done.set()
        sampler.join()
        own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        workers = os.cpu_count() or 2
        print(f"render   {wall:6.1f} s in all ({loaded:.1f} s loading and analyzing the snapshot)")
        print(f"memory   peak {mb(sampler.peak)} sampled (process and Graphviz children together); at most "
              f"{mb(own + workers * child)} = process peak {mb(own)}{'' if exact else ' (since start)'} "
              f"+ {workers} x largest child {mb(child)}")
        report(Path(tmp) / "site", site)
        if args.check and "svg" in args.formats.split(","):
            try:
                assert_readable_at_scale(Path(tmp) / "site", site, doc)
            except AssertionError as exc:
                sys.exit(f"NOT READABLE at scale: {exc}")
            print("checked  readable at scale (bench/readable.py): every diagram within the limits, every "
                  "account's diagram reached from the overview")


if __name__ == "__main__":
    main()
