"""Benchmarks: programs that measure and print JSON with the machine they ran on (tests never time anything).

``edge`` (model latency, an agent's CPU, memory and bandwidth), ``processor`` (throughput against a bare
subscriber, reading-to-alert latency, state size) and ``influx`` (our writer against a raw POST loop).
Modules are imported by the ``bench`` subcommand one at a time, so each needs only its own extra.
"""

__all__: list[str] = []
