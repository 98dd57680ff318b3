"""ireserve-calendar-plugin: two-way Google Calendar / Microsoft 365 sync for a booking host."""

__version__ = "0.1.0"
