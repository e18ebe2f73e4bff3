#!/bin/sh
# A test exec credential plugin: counts its runs in $PLUGIN_STATE/count,
# records its input, and answers by mode ($2): a token exec-token-N that
# expires in an hour (default) or expired an hour ago, or a failure; gate
# answers once $PLUGIN_STATE/go exists.
n=$(cat "$PLUGIN_STATE/count" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "$PLUGIN_STATE/count"
printf '%s' "$KUBERNETES_EXEC_INFO" > "$PLUGIN_STATE/info"
echo "$@" > "$PLUGIN_STATE/args"
case "$2" in
fail) echo 'plugin says no' >&2; exit 3 ;;
garbage) echo 'this is not json'; exit 0 ;;
hang) exec sleep 30 ;;
closed) exec >&- 2>&-; exec sleep 30 ;;
orphan) sleep 30 & echo $! > "$PLUGIN_STATE/orphan"; exec sleep 30 ;;
ctrl) printf '{"apiVersion":"%s","kind":"ExecCredential","status":{"token":"bad\\u000dtoken"}}\n' \
	"${API:-client.authentication.k8s.io/v1}"; exit 0 ;;
gate) i=0; while [ ! -f "$PLUGIN_STATE/go" ]; do i=$((i+1)); [ $i -lt 400 ] || exit 1; sleep 0.05; done
	exp=$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ) ;;
expired) exp=$(date -u -d '-1 hour' +%Y-%m-%dT%H:%M:%SZ) ;;
*) exp=$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ) ;;
esac
printf '{"apiVersion":"%s","kind":"ExecCredential","status":{"token":"exec-token-%s","expirationTimestamp":"%s"}}\n' \
	"${API:-client.authentication.k8s.io/v1}" "$n" "$exp"
