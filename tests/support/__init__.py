"""Helpers shared by the test suites: real brokers, pseudo-terminal scanners, MQTT peers."""
