#!/usr/bin/env python3
"""peerop-server processes on loopback, as an operator's pods would run them.

Several servers ping each other; the peers file is swapped the ConfigMap way
(..data symlink) and rewritten in place while they run; a server goes down
and comes back; garbage clients do not stop /ping; /metrics passes promtool;
SIGTERM finishes the request in flight and exits 0. Every wait is a poll
with a deadline. Run by peer-server-test.sh (top_builddir in the environment).
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

BUILD = os.environ.get("top_builddir", ".")
SERVER = os.path.join(BUILD, "examples", "peerop-server")
DEADLINE = 60.0
PROCS = []
FAILED = []


def fail(msg):
    FAILED.append(msg)
    raise AssertionError(msg)


def wait_until(cond, what, timeout=DEADLINE):
    end = time.monotonic() + timeout
    while True:
        try:
            if cond():
                return
        except (OSError, ValueError):
            pass
        if time.monotonic() >= end:
            fail("timed out waiting for: " + what)
        time.sleep(0.05)


def http(port, path, method="GET", host="127.0.0.1", timeout=10):
    req = urllib.request.Request("http://%s:%d%s" % (host, port, path), method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode(), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(), dict(e.headers)


class Server:
    def __init__(self, tmp, name, args, env=None, log_name=None):
        self.name = name
        self.log_path = os.path.join(tmp, (log_name or name) + ".log")
        self.log = open(self.log_path, "ab")
        full_env = dict(os.environ)
        full_env.pop("POD_NAME", None)
        full_env.update(env or {})
        self.proc = subprocess.Popen([SERVER] + args, stdout=self.log, stderr=subprocess.STDOUT,
                                     env=full_env)
        PROCS.append(self.proc)
        self.port = None
        m = {}

        def listening():
            text = self.text()
            found = re.search(r"Listening on \S+?:(\d+) as", text)
            if found:
                m["port"] = int(found.group(1))
            if self.proc.poll() is not None:
                fail("%s exited early (%s):\n%s" % (name, self.proc.returncode, text))
            return found
        wait_until(listening, name + " listening")
        self.port = m["port"]

    def text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def count(self, needle):
        return sum(1 for line in self.text().splitlines() if needle in line)

    def stop(self, sig=signal.SIGTERM):
        self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout=DEADLINE)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            fail("%s did not exit after %s" % (self.name, sig))
        self.log.close()
        if rc != 0:
            fail("%s exited %d after SIGTERM:\n%s" % (self.name, rc, self.text()[-3000:]))


def configmap_write(d, content, gen):
    """The kubelet's way: new timestamped dir, ..data_tmp renamed over ..data."""
    ts = "..2026_11_26_10_00_%02d.%d" % (gen, gen)
    os.mkdir(os.path.join(d, ts))
    with open(os.path.join(d, ts, "peers.json"), "w") as f:
        f.write(content)
    data = os.path.join(d, "..data")
    old = os.readlink(data) if os.path.islink(data) else None
    os.symlink(ts, os.path.join(d, "..data_tmp"))
    os.rename(os.path.join(d, "..data_tmp"), data)
    if old:
        shutil.rmtree(os.path.join(d, old))
    else:
        os.symlink("..data/peers.json", os.path.join(d, "peers.json"))


def peers_json(servers, skip=()):
    return json.dumps({"peers": [{"id": s.name, "host": "127.0.0.1", "port": s.port}
                                 for s in servers if s.name not in skip]})


def pong_line(server):
    return "Pinged http://127.0.0.1:%d/ping - Response: pong from %s (" % (server.port, server.name)


def test_command_line(tmp):
    out = subprocess.run([SERVER, "--help"], capture_output=True, text=True, timeout=30)
    if out.returncode != 0:
        fail("--help exited %d" % out.returncode)
    for flag in ("--listen ADDR:PORT", "--id NAME", "--peers-file FILE", "--ping-interval SECONDS",
                 "--peer URL", "--peers-dns NAME:PORT", "--log-format text|json", "POD_NAME",
                 "PEEROP_LISTEN", "PEEROP_PEERS_FILE", "PEEROP_PING_INTERVAL", "PEEROP_PEERS",
                 "PEEROP_PEERS_DNS", "PEEROP_LOG_FORMAT", "X-Peerop-Id"):
        if flag not in out.stdout:
            fail("--help does not mention " + flag)
    for bad in (["--nope"], ["--ping-interval", "0"], ["--ping-interval", "soon"],
                ["--log-format", "xml"], ["extra"]):
        r = subprocess.run([SERVER] + bad, capture_output=True, text=True, timeout=30)
        if r.returncode != 2:
            fail("%s: exit %d, want 2" % (bad, r.returncode))
    r = subprocess.run([SERVER, "--listen", "nowhere", "--id", "x"], capture_output=True, text=True, timeout=30)
    if r.returncode != 1 or "missing port" not in r.stdout + r.stderr:
        fail("bad --listen: exit %d: %s" % (r.returncode, r.stdout + r.stderr))


def garbage(port):
    """Idle connections, slowloris, binary junk and oversized headers."""
    held = []
    for _ in range(150):
        held.append(socket.create_connection(("127.0.0.1", port)))
    for _ in range(20):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        held.append(s)
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(bytes((i * 37 + 11) % 256 for i in range(4096)))
    held.append(s)
    s = socket.create_connection(("127.0.0.1", port))
    try:
        s.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 200000 + b"\r\n\r\n")
    except OSError:
        pass  # the server may close before reading it all
    held.append(s)
    st, body, _ = http(port, "/ping")
    if (st, body) != (200, "pong\n"):
        fail("/ping during garbage: %s %r" % (st, body))
    for s in held:
        s.close()


def sigterm_in_flight(server):
    s = socket.create_connection(("127.0.0.1", server.port))
    s.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\n")
    wait_until(lambda: "peerop_http_connections" in http(server.port, "/metrics")[1], "metrics")
    server.proc.send_signal(signal.SIGTERM)

    def refused():
        try:
            socket.create_connection(("127.0.0.1", server.port), timeout=1).close()
            return False
        except OSError:
            return True
    wait_until(refused, "listening socket closed after SIGTERM")
    s.sendall(b"\r\n")
    reply = b""
    s.settimeout(10)
    while b"pong\n" not in reply:
        chunk = s.recv(4096)
        if not chunk:
            break
        reply += chunk
    s.close()
    if not reply.startswith(b"HTTP/1.1 200") or b"pong\n" not in reply:
        fail("request in flight at SIGTERM got %r" % reply[:200])
    server.stop()  # collects the exit status, which must be 0


def main():
    if not os.path.exists(SERVER):
        print("peer-server-test: %s not built" % SERVER)
        return 1
    tmp = tempfile.mkdtemp(prefix="peerop-srv-")
    cm = os.path.join(tmp, "configmap")
    os.mkdir(cm)
    peers_file = os.path.join(cm, "peers.json")
    try:
        test_command_line(tmp)

        # A peers file that is missing: not ready until it appears.
        lonely_file = os.path.join(tmp, "later.json")
        lonely = Server(tmp, "lonely", ["--listen", "127.0.0.1:0", "--id", "lonely",
                                        "--peers-file", lonely_file, "--ping-interval", "0.3"])
        if http(lonely.port, "/readyz")[0] != 503:
            fail("/readyz before the peers file exists should be 503")
        with open(lonely_file, "w") as f:
            f.write('{"peers":[]}')
        wait_until(lambda: http(lonely.port, "/readyz")[0] == 200, "/readyz 200 once loaded")

        configmap_write(cm, '{"peers":[]}', 1)
        common = ["--peers-file", peers_file, "--ping-interval", "0.3"]
        s0 = Server(tmp, "web-0", ["--listen", "127.0.0.1:0", "--id", "web-0"] + common)
        s1 = Server(tmp, "web-1", ["--listen", "127.0.0.1:0", "--log-format", "json"] + common,
                    env={"POD_NAME": "web-1"})
        s2 = Server(tmp, "web-2", common + ["--log-level", "debug"],
                    env={"PEEROP_LISTEN": "127.0.0.1:0", "POD_NAME": "web-2"})
        servers = [s0, s1, s2]
        for s in servers:
            st, body, hdrs = http(s.port, "/ping")
            if st != 200 or body != "pong\n" or hdrs.get("X-Peerop-Id") != s.name:
                fail("%s /ping: %s %r %s" % (s.name, st, body, hdrs))
            if http(s.port, "/ping", method="POST")[2].get("Allow") != "GET, HEAD":
                fail("POST /ping: no Allow: GET, HEAD")
            if http(s.port, "/nothing")[0] != 404:
                fail("unknown path not 404")
            wait_until(lambda s=s: http(s.port, "/readyz")[0] == 200, s.name + " ready")

        # The set arrives the ConfigMap way (the file lists each server itself too).
        configmap_write(cm, peers_json(servers), 2)
        for a in servers:
            for b in servers:
                if a is not b:
                    wait_until(lambda a=a, b=b: a.count(pong_line(b)) >= 2,
                               "%s logs pongs from %s" % (a.name, b.name))
            if a.count("http://127.0.0.1:%d/ping" % a.port) != 0:
                fail(a.name + " pinged itself")
        # JSON log: the same sentence in msg, and fields
        entries = [json.loads(l) for l in s1.text().splitlines() if l.startswith("{")]
        pongs = [e for e in entries if e.get("msg", "").startswith("Pinged ")]
        if not pongs or not all("responder" in e and "latency_ms" in e and e["level"] == "info" for e in pongs):
            fail("JSON log pongs lack fields: %r" % pongs[:2])
        text_line = [l for l in s0.text().splitlines() if pong_line(s1) in l][0]
        if not re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z INFO  Pinged http://127\.0\.0\.1:\d+/ping"
                        r" - Response: pong from web-1 \(\d+\.\d ms\)$", text_line):
            fail("text log line shape: %r" % text_line)
        wait_until(lambda: s2.count("Ping from web-0 (127.0.0.1)") >= 1, "debug log of who pinged")

        # /peers and /metrics
        st, body, _ = http(s0.port, "/peers")
        doc = json.loads(body)
        ids = sorted(p["last_seen_id"] for p in doc["peers"])
        if st != 200 or doc["self"] != "web-0" or ids != ["web-1", "web-2"]:
            fail("/peers: %s" % body)
        st, metrics, hdrs = http(s0.port, "/metrics")
        if st != 200 or not hdrs.get("Content-Type", "").startswith("text/plain; version=0.0.4"):
            fail("/metrics: %s %s" % (st, hdrs))
        promtool = shutil.which("promtool")
        if not promtool:
            fail("promtool not found (Debian package prometheus; scripts/install-deps.sh test)")
        r = subprocess.run([promtool, "check", "metrics"], input=metrics, capture_output=True, text=True,
                           timeout=60)
        if r.returncode != 0:
            fail("promtool check metrics: %s\n%s" % (r.stdout + r.stderr, metrics))

        # Rewritten in place (through the symlink): web-2 leaves web-0's set.
        with open(os.path.join(cm, "..data", "peers.json"), "w") as f:
            f.write(peers_json(servers, skip=("web-2",)))
        wait_until(lambda: [p["id"] for p in json.loads(http(s0.port, "/peers")[1])["peers"]] == ["web-1"],
                   "web-0 drops web-2 after an in-place rewrite")
        # A broken file keeps the last good set, with one clear error.
        with open(os.path.join(cm, "..data", "peers.json"), "w") as f:
            f.write('{"peers":[{"id":"web-1","host":"127.0.0.1",')
        wait_until(lambda: s0.count("Peers file not loaded") >= 1, "error for a half-written file")
        line = [l for l in s0.text().splitlines() if "Peers file not loaded" in l][0]
        if peers_file not in line or "line 1, column" not in line:
            fail("the error should name the file and the position: " + line)
        if http(s0.port, "/readyz")[0] != 200:
            fail("a bad reload must not make the server unready")
        # And back, the ConfigMap way.
        configmap_write(cm, peers_json(servers), 3)
        wait_until(lambda: len(json.loads(http(s0.port, "/peers")[1])["peers"]) == 2, "web-2 back in the set")

        # Garbage clients do not stop /ping.
        garbage(s0.port)

        # web-2 goes down (SIGTERM exits 0) and comes back on the same port.
        port2 = s2.port
        fails_before = s0.count("Failed to ping http://127.0.0.1:%d/ping" % port2)
        s2.stop()
        wait_until(lambda: s0.count("Failed to ping http://127.0.0.1:%d/ping: connection refused (3rd failure, next try in 0.3 s)" % port2) == 1,
                   "web-0 logs web-2's failures with backoff")
        if fails_before != 0:
            fail("failures logged before web-2 went down")
        pongs_before = s0.count(pong_line(s2))
        s2 = Server(tmp, "web-2", ["--listen", "127.0.0.1:%d" % port2, "--id", "web-2"] + common,
                    log_name="web-2-again")
        servers[2] = s2
        wait_until(lambda: s0.count(pong_line(s2)) > pongs_before, "web-0 hears web-2 again")

        # Static and DNS peers; an unresolvable DNS name costs a round, not the server.
        st_srv = Server(tmp, "static", ["--listen", "[::1]:0", "--id", "static", "--ping-interval", "0.3",
                                        "--peer", "http://127.0.0.1:%d" % s0.port,
                                        "--peers-dns", "localhost:%d" % s1.port])
        wait_until(lambda: st_srv.count(pong_line(s0)) >= 1, "static peer pinged")
        wait_until(lambda: st_srv.count("Response: pong from web-1 (") >= 1, "DNS peer pinged")
        dns_srv = Server(tmp, "nodns", ["--listen", "127.0.0.1:0", "--id", "nodns", "--ping-interval", "0.3",
                                        "--peers-dns", "no-such-host.invalid:80"])
        wait_until(lambda: dns_srv.count("no DNS peers this round") >= 2, "DNS failure logged per round")
        if http(dns_srv.port, "/ping")[1] != "pong\n":
            fail("server with failing DNS stopped answering")

        # SIGTERM with a request in flight: finished, then exit 0.
        sigterm_in_flight(s1)
        for s in (s0, s2, st_srv, dns_srv, lonely):
            s.stop()
    except AssertionError as e:
        print("peer-server-test: FAIL: %s" % e)
        for name in sorted(os.listdir(tmp)):
            if name.endswith(".log"):
                with open(os.path.join(tmp, name), errors="replace") as f:
                    print("---- %s (last lines)\n%s" % (name, "".join(f.readlines()[-15:])))
        return 1
    finally:
        for p in PROCS:
            if p.poll() is None:
                p.kill()
                p.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    print("peer-server-test: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
