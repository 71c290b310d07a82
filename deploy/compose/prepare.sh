#!/usr/bin/env bash
# Renders the NATS configuration deploy/compose.yaml mounts, from the same deploy/nats
# templates production uses, into deploy/compose/config/: three hub servers, the
# FEDERATION account's users, one leaf node per hromada and its node's NATS URL with the
# leaf's node password (node-<name>.env), and the CA and certificate of the hub's TLS leaf
# port (config/tls/). Passwords are generated once
# (config/secrets.env, mode 0600) and reused on later runs. Run it before `docker compose up`.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
nats="$here/../nats"
render="$nats/render.sh"
out="$here/config"
mkdir -p "$out"
chmod 0700 "$out"

# The two hromadas of the example: code and the name its services carry in compose.yaml.
HROMADAS=(UA05020030000031457:vinnytsia UA74020010000010449:koriukivka)

secrets="$out/secrets.env"
if [ ! -f "$secrets" ]; then
  gen() { head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 24; }
  umask 077
  {
    echo "ASSOCIATION_PASSWORD=$(gen)"
    echo "SYS_PASSWORD=$(gen)"
    echo "POSTGRES_PASSWORD=$(gen)"
    for entry in "${HROMADAS[@]}"; do
      name="${entry#*:}"
      echo "LEAF_PASSWORD_${name^^}=$(gen)"
      echo "NODE_PASSWORD_${name^^}=$(gen)"
    done
  } > "$secrets"
fi
# shellcheck disable=SC1090
source "$secrets"

# The association's CA, and the certificate the hub's leaf port presents (for the names the
# leaves dial), made once with openssl. The leaves trust this CA alone.
tls="$out/tls"
if [ ! -f "$tls/hub-leaf.pem" ]; then
  mkdir -p "$tls"
  (
    umask 077
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
      -subj "/CN=vidkryto association CA" -keyout "$tls/ca-key.pem" -out "$tls/ca.pem" \
      -addext "basicConstraints=critical,CA:TRUE" \
      -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
      -subj "/CN=vidkryto hub leaf port" -keyout "$tls/hub-leaf-key.pem" \
      -out "$tls/hub-leaf.csr" 2>/dev/null
    printf '%s\n' "subjectAltName=DNS:nats-hub-1,DNS:nats-hub-2,DNS:nats-hub-3" \
      "keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth" > "$tls/hub-leaf.ext"
    openssl x509 -req -in "$tls/hub-leaf.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca-key.pem" \
      -CAcreateserial -days 825 -extfile "$tls/hub-leaf.ext" -out "$tls/hub-leaf.pem" 2>/dev/null
    rm -f "$tls/hub-leaf.csr" "$tls/hub-leaf.ext"
  )
  chmod 0644 "$tls/ca.pem" "$tls/hub-leaf.pem"
fi
# Where compose.yaml mounts them in the NATS containers.
TLS_DIR=/etc/nats/tls

hub_routes='"nats-route://nats-hub-1:6222", "nats-route://nats-hub-2:6222", "nats-route://nats-hub-3:6222"'
leaf_users=""
for entry in "${HROMADAS[@]}"; do
  code="${entry%%:*}"
  name="${entry#*:}"
  leaf_var="LEAF_PASSWORD_${name^^}"
  node_var="NODE_PASSWORD_${name^^}"
  leaf_password="${!leaf_var}"
  leaf_users+="$("$render" "$nats/hub/leaf-user.conf.template" \
    KATOTTG="$code" LEAF_PASSWORD="$leaf_password" JS_DOMAIN="muni_$code")"$'\n'
  urls=""
  for i in 1 2 3; do
    urls+="\"nats-leaf://leaf_$code:$leaf_password@nats-hub-$i:7422\", "
  done
  "$render" "$nats/leaf/leaf.conf.template" \
    KATOTTG="$code" CLIENT_LISTEN="127.0.0.1:4222" MONITOR_LISTEN="127.0.0.1:8222" \
    STORE_DIR="/data/jetstream" MAX_FILE_STORE="10G" JS_DOMAIN="muni_$code" \
    NODE_PASSWORD="${!node_var}" HUB_LEAF_URLS="${urls%, }" HUB_CA_FILE="$TLS_DIR/ca.pem" \
    > "$out/leaf-$name.conf"
  # The node logs in to its leaf as the node user (the leaf admits no one without credentials).
  (
    umask 077
    echo "VIDKRYTO_NODE_NATS_URL=nats://node:${!node_var}@127.0.0.1:4222" > "$out/node-$name.env"
  )
done
printf '%s' "$leaf_users" > "$out/leaf-users.part"
"$render" "$nats/hub/federation-users.conf.template" \
  ASSOCIATION_PASSWORD="$ASSOCIATION_PASSWORD" LEAF_USERS="@$out/leaf-users.part" \
  > "$out/federation-users.conf"
for i in 1 2 3; do
  "$render" "$nats/hub/hub.conf.template" \
    SERVER_NAME="hub-$i" CLIENT_LISTEN="0.0.0.0:4222" MONITOR_LISTEN="0.0.0.0:8222" \
    STORE_DIR="/data/jetstream" MAX_FILE_STORE="50G" CLUSTER_LISTEN="0.0.0.0:6222" \
    ROUTES="$hub_routes" LEAF_LISTEN="0.0.0.0:7422" SYS_PASSWORD="$SYS_PASSWORD" \
    LEAF_TLS_CERT_FILE="$TLS_DIR/hub-leaf.pem" LEAF_TLS_KEY_FILE="$TLS_DIR/hub-leaf-key.pem" \
    > "$out/hub-$i.conf"
done
umask 077
cat > "$out/association.env" <<ENV
VIDKRYTO_ASSOCIATION_DB=postgres://vidkryto:$POSTGRES_PASSWORD@postgres:5432/vidkryto_association
VIDKRYTO_NATS_URL=nats://association:$ASSOCIATION_PASSWORD@nats-hub-1:4222
VIDKRYTO_SOURCE_DOMAIN_TEMPLATE=muni_{code}
VIDKRYTO_INGEST_REPLICAS=3
VIDKRYTO_LOG=info
ENV
cat > "$out/postgres.env" <<ENV
POSTGRES_USER=vidkryto
POSTGRES_PASSWORD=$POSTGRES_PASSWORD
POSTGRES_DB=vidkryto_association
ENV
echo "rendered into $out" >&2
