"""The lab around the plugin: the test world (reference host + emulators on loopback) and the offline demo.

Public API: :class:`ireserve_lab.world.World`, :func:`ireserve_lab.demo.run_demo`, :func:`ireserve_lab.cli.main`.

Not part of what a host installs: it imports the plugin's host (``ireserve_devhost``) and the emulators
(``calendar_emulators``); the plugin imports nothing of it.
"""
