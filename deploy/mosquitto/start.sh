#!/bin/sh
# The mosquitto service's entrypoint in docker-compose.yml (eclipse-mosquitto image, runs as root).
#
# Mosquitto 2.0 drops to its own user *before* it reads its TLS key and the dynamic-security file, and
# compose mounts file secrets with their host owner and mode (its uid/gid/mode options apply to Swarm
# only), so the broker's own copies are made here, owned by the mosquitto user, mode 0600.
set -eu

install -d -o mosquitto -g mosquitto -m 0700 /mosquitto/secrets
install -o mosquitto -g mosquitto -m 0644 /run/secrets/mqtt-server-cert /mosquitto/secrets/server.crt
install -o mosquitto -g mosquitto -m 0600 /run/secrets/mqtt-server-key /mosquitto/secrets/server.key

# The generated access configuration seeds a new broker only. Once running, the broker owns its copy on
# the data volume (it rewrites it after every change made with `vitalstream access apply`).
if [ ! -e /mosquitto/data/dynamic-security.json ]; then
  install -d -o mosquitto -g mosquitto -m 0700 /mosquitto/data
  install -o mosquitto -g mosquitto -m 0600 /run/secrets/mqtt-dynsec /mosquitto/data/dynamic-security.json
fi

exec /docker-entrypoint.sh /usr/sbin/mosquitto -c /mosquitto/config/mosquitto.conf
