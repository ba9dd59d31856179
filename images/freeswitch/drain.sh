#!/bin/bash
# The FreeSWITCH container's preStop hook: keeps the switch up while the dialer beside it
# drains. On SIGTERM the dialer stops dialling, lets its calls in flight end (for up to its
# KDIAL_DRAIN_SECONDS), hangs up what is left and exits; this waits until the dialer has
# exited (its metrics port closed) and no channel remains, or at most CAP seconds, which the
# operator sets a few seconds short of the pod's terminationGracePeriodSeconds. Then the
# kubelet sends FreeSWITCH its SIGTERM.
#
#   kdial-freeswitch-drain CAP_SECONDS DIALER_PORT
set -u

cap=${1:?cap seconds}
dialer_port=${2:?dialer port}
deadline=$((SECONDS + cap))

dialer_up() {
    (exec 3<>"/dev/tcp/127.0.0.1/${dialer_port}") 2>/dev/null
}

channels() {
    /usr/local/freeswitch/bin/fs_cli -H 127.0.0.1 -P "${ESL_PORT}" -p "${ESL_PASSWORD}" \
        -x 'show channels count' 2>/dev/null | awk '/total/ {print $1; exit}'
}

while [ "$SECONDS" -lt "$deadline" ]; do
    count=$(channels)
    # No answer from the switch: nothing left to keep up for.
    [ -n "$count" ] || exit 0
    if [ "$count" -eq 0 ] && ! dialer_up; then
        exit 0
    fi
    sleep 1
done
echo "kdial-freeswitch-drain: ${cap}s passed with channels still up" >&2
