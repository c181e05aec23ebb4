#!/bin/sh
# Makes deploy/compose/secrets/ once: the pseudonym key (32 random bytes, hex)
# shared by gateways and workers, and Grafana's admin password. Existing files
# are kept: a new pseudonym key would change every patient's pseudonym.
set -eu
cd "$(dirname "$0")"
umask 077
mkdir -p secrets
[ -s secrets/pseudonym.key ] || od -An -N32 -tx1 /dev/urandom | tr -d ' \n' > secrets/pseudonym.key
[ -s secrets/grafana-admin-password ] || od -An -N18 -tx1 /dev/urandom | tr -d ' \n' > secrets/grafana-admin-password
echo "secrets in $(pwd)/secrets (Grafana: admin / the contents of secrets/grafana-admin-password)"
