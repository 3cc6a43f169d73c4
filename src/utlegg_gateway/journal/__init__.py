"""Durable state: the journal of files and cases, and their state machines."""
