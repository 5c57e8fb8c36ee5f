#!/usr/bin/env bash
# Makes a throwaway CA and TLS certificates for a local Ballot cluster (SPEC "Security: who may
# talk to the cluster"), with the openssl command line:
#   DIR/ca.crt, DIR/ca.key             the CA (--tls-ca-cert-file), valid 10 years
#   DIR/node-ID.crt, DIR/node-ID.key   per node (--tls-cert-file, --tls-key-file): CN node-ID,
#                                      SAN DNS:node-ID, DNS:localhost, IP:127.0.0.1, usable as
#                                      TLS server and client (peers authenticate both ways)
#   DIR/client.crt, DIR/client.key     a client certificate (CN client)
# Idempotent: files already there are kept (the CA too), so it can add a node to a cluster.
# Not for production: the keys are unencrypted and the CA key sits beside them.
#
# usage: scripts/make-certs.sh DIR NODE_ID...
set -euo pipefail

die() {
  echo "make-certs.sh: $*" >&2
  exit 1
}

[[ $# -ge 2 ]] || die "usage: make-certs.sh DIR NODE_ID... (e.g. make-certs.sh certs 1 2 3)"
command -v openssl >/dev/null || die "the openssl command is not installed (apt-get install openssl)"
dir=$1
shift
for id in "$@"; do
  [[ $id =~ ^[1-9][0-9]{0,18}$ ]] || die "node id '$id': expected a positive whole number"
done
mkdir -p "$dir" || die "cannot create $dir"
[[ -w $dir ]] || die "$dir is not writable"
umask 077

# Every openssl call is bounded in time, and its chatter shown only when it fails.
run_openssl() {
  local out
  if ! out=$(timeout 60 openssl "$@" 2>&1); then
    echo "$out" >&2
    die "openssl $1 failed"
  fi
}

# P-256 keys: quick to make, and every TLS client (redis-cli, client libraries) takes them.
new_key=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)

if [[ ! -s $dir/ca.crt || ! -s $dir/ca.key ]]; then
  run_openssl req -x509 "${new_key[@]}" -days 3650 -subj "/CN=Ballot throwaway CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -keyout "$dir/ca.key" -out "$dir/ca.crt"
fi

# make_cert NAME SAN EXTENDED_KEY_USAGE: NAME.key and NAME.crt signed by the CA, unless present.
make_cert() {
  local name=$1 san=$2 usage=$3
  [[ -s $dir/$name.crt && -s $dir/$name.key ]] && return 0
  local ext
  ext=$(mktemp) || die "cannot make a temporary file"
  printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n' >"$ext"
  printf 'extendedKeyUsage=%s\n' "$usage" >>"$ext"
  [[ -n $san ]] && printf 'subjectAltName=%s\n' "$san" >>"$ext"
  run_openssl req -new "${new_key[@]}" -subj "/CN=$name" -keyout "$dir/$name.key" -out "$dir/$name.csr"
  run_openssl x509 -req -in "$dir/$name.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" \
    -CAcreateserial -days 825 -extfile "$ext" -out "$dir/$name.crt"
  rm -f "$dir/$name.csr" "$ext"
}

for id in "$@"; do
  make_cert "node-$id" "DNS:node-$id,DNS:localhost,IP:127.0.0.1" "serverAuth,clientAuth"
done
make_cert client "" clientAuth
echo "certificates in $dir: ca.crt$(printf ' node-%s.crt' "$@") client.crt"
