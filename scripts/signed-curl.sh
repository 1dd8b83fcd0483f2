#!/usr/bin/env bash
# signed-curl.sh METHOD PATH [BODY]: send one request to payd signed by the contract of
# docs/api.md, with nothing but bash, openssl and curl, as a site's own client would.
# Reads XCKIT_LB_URL (or PAYD_URL), XCKIT_MERCHANT_ID and XCKIT_MERCHANT_KEY.
set -euo pipefail
method=${1:?usage: signed-curl.sh METHOD PATH [BODY]}
path=${2:?usage: signed-curl.sh METHOD PATH [BODY]}
body=${3:-}
url=${PAYD_URL:-${XCKIT_LB_URL:?set XCKIT_LB_URL or PAYD_URL}}
merchant=${XCKIT_MERCHANT_ID:?set XCKIT_MERCHANT_ID}
key=${XCKIT_MERCHANT_KEY:?set XCKIT_MERCHANT_KEY}
ts=$(date +%s)
nonce=$(openssl rand -hex 12)
sig=$(printf '%s\n%s\n%s\n%s\n%s' "$method" "$path" "$ts" "$nonce" "$body" \
      | openssl dgst -sha256 -hmac "$key" -hex | sed 's/^.*= //')
exec curl -sS -i -X "$method" "$url$path" \
  -H "Content-Type: application/json" \
  -H "X-Xc-Merchant: $merchant" -H "X-Xc-Timestamp: $ts" -H "X-Xc-Nonce: $nonce" \
  -H "X-Xc-Signature: $sig" -H "X-Xc-Sign-Method: hmac-sha256" \
  ${body:+--data-binary "$body"}
