"""Local emulators of Google Calendar v3 and Microsoft Graph (with their OAuth endpoints).

Product code, not test mocks: the offline demo, the benchmarks and every end-to-end test talk to them
over real HTTP on 127.0.0.1. They import nothing of the plugin. See :mod:`.core` for what they share,
:mod:`.google` and :mod:`.graph` for the services, :mod:`.serve` for the command line.
"""
