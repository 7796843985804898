"""Heatwave: a Discord bot that delivers news alerts."""
