"""Handlers of a shop's checkout, served by the runtime's function tests."""
