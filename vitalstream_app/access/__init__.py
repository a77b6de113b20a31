"""Access control on the bus: enrolment -> policy -> Mosquitto dynamic-security file, secrets, certificates.

``policy`` (who may do what, pure), ``dynsec`` (that policy as the plugin's file and as control commands,
pure), ``secrets`` (per-identity password files), ``files`` (the output directory of ``vitalstream access
build``), ``pki`` (a private CA and the broker certificate, openssl) and ``control`` (``vitalstream access
apply``: the control API of a running broker; needs paho-mqtt, so it is imported only by its command).
"""

__all__: list[str] = []
