"""Adapters that talk to people: the Discord bot, the command line and the local console."""
