#!/usr/bin/env bash
# Renders nginx/collabd.conf.template to standard output: every ${NGX_*} name in the template
# is taken from the environment, or from the defaults below, and substituted by envsubst given
# exactly that list (nginx's own $variables are left alone). A name without a value stops it.
#   NGX_UPSTREAMS="10.0.0.5:8080 10.0.0.6:8080" NGX_SERVER_NAME=editor.example.org \
#     nginx/render.sh > /etc/nginx/conf.d/collabd.conf && nginx -t && nginx -s reload
# NGX_UPSTREAMS (host:port list) builds NGX_UPSTREAM_SERVERS unless that is given whole.
set -euo pipefail
template=${1:-"$(dirname "$0")/collabd.conf.template"}

: "${NGX_UPSTREAMS:=127.0.0.1:8080}"
if [[ -z ${NGX_UPSTREAM_SERVERS:-} ]]; then
  NGX_UPSTREAM_SERVERS=""
  for u in $NGX_UPSTREAMS; do
    NGX_UPSTREAM_SERVERS+="server $u max_fails=3 fail_timeout=10s; "
  done
fi
# defaults: collabd's own limits (--max-body, --upload-max, --http-rate-limit/-burst)
: "${NGX_SERVER_NAME:=_}"
: "${NGX_HTTP_LISTEN:=80}"
: "${NGX_HTTPS_LISTEN:=443}"
: "${NGX_HTTPS_ONLY:=on}"
: "${NGX_HTTPS_REDIRECT_PORT=}"
: "${NGX_SSL_CERT:=/etc/nginx/certs/fullchain.pem}"
: "${NGX_SSL_KEY:=/etc/nginx/certs/privkey.pem}"
: "${NGX_OCSP_STAPLING:=off}"
: "${NGX_CACHE_DIR:=/var/cache/nginx/collabd}"
: "${NGX_MAX_BODY:=1m}"
: "${NGX_UPLOAD_MAX:=10m}"
: "${NGX_RATE_LIMIT:=200}"
: "${NGX_RATE_BURST:=400}"
: "${NGX_STATIC_RATE_LIMIT:=1000}"
: "${NGX_STATIC_RATE_BURST:=2000}"
: "${NGX_WS_RATE_LIMIT:=10}"
: "${NGX_WS_RATE_BURST:=50}"
: "${NGX_WS_CONN_MAX:=256}"

mapfile -t names < <(grep -o '\${NGX_[A-Z0-9_]*}' "$template" | sort -u | tr -d '${}')
list=""
for n in "${names[@]}"; do
  if [[ -z ${!n+set} ]]; then
    echo "nginx/render.sh: $n has no value" >&2
    exit 1
  fi
  export "${n?}"
  list+="\${$n} "
done
envsubst "$list" <"$template"
