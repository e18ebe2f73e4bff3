#!/bin/sh
# peerop-server processes on loopback: see peer_server_test.py.
exec python3 "$srcdir/peer_server_test.py"
