#!/usr/bin/env bash
# Two processes, one attested channel: both ends verify each other's fake-TD quote; a peer
# without a quote is refused by a TDX policy and told why; an --any listener accepts it.
source "$(dirname "$0")/lib.sh"

# 1. happy path, both directions verified
"$COCOON" channel listen --difficulty 12 --port-file "$WORK/port1" --once >"$WORK/s1.out" 2>"$WORK/s1.err" &
PIDS+=($!)
wait_file "$WORK/port1" || { fail "listener did not start"; cat "$WORK/s1.err"; finish; exit 1; }
if "$COCOON" channel connect "127.0.0.1:$(cat "$WORK/port1")" --message "ping 42" >"$WORK/c1.out" 2>"$WORK/c1.err"; then
    pass "connect exits 0"
else
    fail "connect failed"; cat "$WORK/c1.err"
fi
wait "${PIDS[0]}"
expect_line "$WORK/c1.out" '^answer: echo: ping 42$' "query answered over the channel"
expect_line "$WORK/c1.out" '^peer_attested: true$' "client verified the listener's quote"
expect_line "$WORK/c1.out" '^peer_tcb_status: UpToDate$' "client evaluated the listener's TCB with collateral"
expect_line "$WORK/s1.out" '^peer_tcb_status: UpToDate$' "listener evaluated the client's TCB with collateral"
expect_line "$WORK/s1.out" '^peer_attested: true$' "listener verified the client's quote"
server_key="$(sed -n 's/^public_key: //p' "$WORK/s1.out")"
expect_line "$WORK/c1.out" "^peer_public_key: $server_key\$" "client saw the listener's certificate key"
img="$(sed -n 's/^image_hash: //p' "$WORK/s1.out")"
expect_line "$WORK/c1.out" "^peer_image_hash: $img\$" "image hash as the listener computed it"

# 2. a client without a quote against a TDX policy
"$COCOON" channel listen --difficulty 4 --port-file "$WORK/port2" --once >"$WORK/s2.out" 2>"$WORK/s2.err" &
PIDS+=($!)
wait_file "$WORK/port2" || { fail "listener 2 did not start"; finish; exit 1; }
if "$COCOON" channel connect "127.0.0.1:$(cat "$WORK/port2")" --provider none --fake-ca "$COCOON_HOME/fake-ca" --timeout 10 >"$WORK/c2.out" 2>"$WORK/c2.err"; then
    fail "a client without a quote was served"
else
    pass "a client without a quote is refused"
fi
wait "${PIDS[1]}"
expect_line "$WORK/s2.out" '^closed: .* NO_QUOTE$' "listener names the reason (NO_QUOTE)"

# 3. the same client is accepted by an --any listener (the proxy's client port)
"$COCOON" channel listen --any --difficulty 4 --port-file "$WORK/port3" --once >"$WORK/s3.out" 2>"$WORK/s3.err" &
PIDS+=($!)
wait_file "$WORK/port3" || { fail "listener 3 did not start"; finish; exit 1; }
if "$COCOON" channel connect "127.0.0.1:$(cat "$WORK/port3")" --provider none --fake-ca "$COCOON_HOME/fake-ca" >"$WORK/c3.out" 2>"$WORK/c3.err"; then
    pass "plain client accepted by an --any listener"
else
    fail "plain client refused by an --any listener"; cat "$WORK/c3.err"
fi
wait "${PIDS[2]}"
expect_line "$WORK/s3.out" '^peer_attested: false$' "listener records the client as unattested"

# 4. a client demanding less work than the listener asks
"$COCOON" channel listen --difficulty 30 --port-file "$WORK/port4" --once >"$WORK/s4.out" 2>"$WORK/s4.err" &
PIDS+=($!)
wait_file "$WORK/port4" || { fail "listener 4 did not start"; finish; exit 1; }
if "$COCOON" channel connect "127.0.0.1:$(cat "$WORK/port4")" >"$WORK/c4.out" 2>"$WORK/c4.err"; then
    fail "client solved a difficulty-30 challenge"
else
    expect_line "$WORK/c4.err" 'difficulty above our maximum' "client refuses PoW difficulty 30 > 28"
fi
wait "${PIDS[3]}"
finish
