"""Koordinator scanner agent: reads a scanner, keeps a durable outbox, talks MQTT.

One agent runs on each shop-floor PC.  The parts are small and replaceable:

- ``config``   settings from a TOML file and command-line flags, validated at start
- ``readers``  serial port, standard input and RFID line sources
- ``outbox``   the SQLite file that holds every scan until the server answers
- ``link``     the MQTT connection (paho-mqtt 2.x)
- ``feedback`` console messages and good/bad byte sequences back to the scanner
- ``agent``    the glue that wires them together

The agent depends on neither Flask nor the server's code.
"""

__version__ = "0.1.0"
