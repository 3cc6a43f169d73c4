"""Everything on disk: inboxes, attachments, the archive, the outbox."""
