"""``python -m ireserve_calendar_plugin.devhost``: run the reference host (see :func:`.run.main`)."""

from __future__ import annotations

from ireserve_calendar_plugin.devhost.run import main

raise SystemExit(main())
