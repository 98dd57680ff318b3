"""The pluggy markers of the host project ``ireserve``."""

from __future__ import annotations

import pluggy

#: The pluggy project name a host creates its ``PluginManager`` with; also the entry-point group.
PROJECT_NAME = "ireserve"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)
