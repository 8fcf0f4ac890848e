"""Watches: fan-out of the event log to WatchStatus streams and WaitForStatus calls."""
