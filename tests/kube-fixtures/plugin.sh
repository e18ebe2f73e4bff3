#!/bin/sh
# A test exec credential plugin: counts its runs in $PLUGIN_STATE/count,
# records its input, and answers by mode ($2): a token exec-token-N that
# expires in an hour (default) or expired an hour ago, or a failure.
n=$(cat "$PLUGIN_STATE/count" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "$PLUGIN_STATE/count"
printf '%s' "$KUBERNETES_EXEC_INFO" > "$PLUGIN_STATE/info"
echo "$@" > "$PLUGIN_STATE/args"
case "$2" in
fail) echo 'plugin says no' >&2; exit 3 ;;
garbage) echo 'this is not json'; exit 0 ;;
hang) exec sleep 30 ;;
expired) exp=$(date -u -d '-1 hour' +%Y-%m-%dT%H:%M:%SZ) ;;
*) exp=$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ) ;;
esac
printf '{"apiVersion":"%s","kind":"ExecCredential","status":{"token":"exec-token-%s","expirationTimestamp":"%s"}}\n' \
	"${API:-client.authentication.k8s.io/v1}" "$n" "$exp"
