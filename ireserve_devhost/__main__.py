"""``python -m ireserve_devhost``: run the reference host (see :func:`.run.main`)."""

from __future__ import annotations

from ireserve_devhost.run import main

raise SystemExit(main())
