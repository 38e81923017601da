"""Everything from a briefing file on disk to a ranked, attributed passage."""
