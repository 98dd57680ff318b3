"""Benchmarks of the calendar plugin on the emulators and the reference host (issue 7).

Run ``python -m benchmarks`` (or ``ireserve-lab bench``): every figure of the issue's table is
measured over real HTTP on 127.0.0.1 with :class:`ireserve_lab.world.World`, API calls are
counted in the emulators' request logs, times are ``time.monotonic()`` medians over several runs. The
table (figure | target | measured | met?) is printed and written as JSON to
``benchmarks/results/latest.json``. ``--quick`` runs small sizes (a smoke test), ``--only NAME`` one
group (or one figure id), ``--runs K`` the timed repetitions.

One module per group of figures: :mod:`.inbound`, :mod:`.memory`, :mod:`.push`, :mod:`.outbound`,
:mod:`.idle`, :mod:`.application`, :mod:`.pacing`; :mod:`.harness` and :mod:`.worlds` are shared.
The product never imports this package.
"""

from __future__ import annotations

from benchmarks.harness import Figure
from benchmarks.harness import Options

__all__ = ["Figure", "Options", "main"]


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks (see :mod:`benchmarks.__main__`)."""
    from benchmarks.__main__ import main as run_main

    return run_main(argv)
