#!/bin/sh
# Starts FreeSWITCH with kdial's configuration. conf/vars.xml reads these variables when the
# configuration is parsed, and substitutes them into its XML text: each is checked here first,
# so that a value which is missing or would change the XML stops the container with a message
# instead of starting a switch that does something else.
set -eu

fail() {
    echo "kdial-freeswitch: $*" >&2
    exit 64
}

port() {
    case "$2" in
        '' | *[!0-9]*) fail "$1 must be a port number (1-65535), got '$2'" ;;
    esac
    [ "$2" -ge 1 ] && [ "$2" -le 65535 ] || fail "$1 must be in 1-65535, got $2"
}

# The Event Socket password: from the worker pod's ESL Secret (key `password`).
case "${ESL_PASSWORD:-}" in
    '') fail "ESL_PASSWORD is not set: the worker pod takes it from the Event Socket Secret" ;;
    *[!A-Za-z0-9._~+-]*) fail "ESL_PASSWORD may hold only letters, digits and . _ ~ + -" ;;
esac
port ESL_PORT "${ESL_PORT:-}"
port SIP_PORT "${SIP_PORT:-}"
port RTP_PORT_START "${RTP_PORT_START:-}"
port RTP_PORT_END "${RTP_PORT_END:-}"
[ "$RTP_PORT_START" -le "$RTP_PORT_END" ] \
    || fail "RTP_PORT_END ($RTP_PORT_END) is below RTP_PORT_START ($RTP_PORT_START)"
case "${SESSIONS_PER_SECOND:-}" in
    '' | *[!0-9]* | 0) fail "SESSIONS_PER_SECOND must be a whole number above 0" ;;
esac

# In the foreground (-nf), without the interactive console (-nc; mod_console logs to stdout),
# and without NAT-PMP/UPnP probing, which has no router to find in a pod.
exec /usr/local/freeswitch/bin/freeswitch -nf -nc -nonat "$@"
