"""Discord cogs: asking and moderating."""
