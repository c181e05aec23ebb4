#!/bin/sh
# Makes deploy/compose/secrets/ once: the pseudonym key (32 random bytes, hex)
# shared by gateways and workers, and Grafana's admin password. Existing files
# are kept: a new pseudonym key would change every patient's pseudonym.
#
# Compose (without swarm) bind-mounts each secret file as it is, so the
# containers' users (vigil 10001, grafana 472) must be able to read it: the
# files are 0644, and the folder 0700 keeps other users of this host out.
set -eu
cd "$(dirname "$0")"
mkdir -p secrets
chmod 0700 secrets
make_secret() {
  [ -s "secrets/$1" ] || od -An -N"$2" -tx1 /dev/urandom | tr -d ' \n' > "secrets/$1"
  chmod 0644 "secrets/$1"
}
make_secret pseudonym.key 32
make_secret grafana-admin-password 18
echo "secrets in $(pwd)/secrets (Grafana: admin / the contents of secrets/grafana-admin-password)"
