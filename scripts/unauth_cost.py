#!/usr/bin/env python3
"""What one unauthenticated client can cost a running `herald serve`, measured.

Starts the release binary with an ingest token on a loopback port, then, as a client
without the token: (1) holds 1,100 connections that send nothing (beyond the 1,024 cap),
(2) sends 2,000 requests announcing 1 MiB bodies without the token, sending the whole MiB,
(3) sends the HTTP/2 prior-knowledge preface on 200 connections. After each it reports the
server's resident memory (now and peak), its open connections, how long a silent connection
was held, and whether a client with the token was served meanwhile.

    cargo build --release && python3 scripts/unauth_cost.py [target/release/herald]
"""
import json, os, socket, subprocess, sys, tempfile, threading, time, urllib.request

BIN = sys.argv[1] if len(sys.argv) > 1 else "target/release/herald"
TOKEN = "tok-measure-0123456789"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def status(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM"):
                out[k] = int(v.split()[0]) // 1024
    out["fds"] = len(os.listdir(f"/proc/{pid}/fd"))
    return out


def authorised_post(port):
    body = open("examples/payloads/drift-clean.json", "rb").read()
    req = urllib.request.Request(f"http://127.0.0.1:{port}/events", data=body, method="POST",
                                 headers={"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"})
    t = time.monotonic()
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, time.monotonic() - t
    except Exception as e:
        return str(e), time.monotonic() - t


def main():
    work = tempfile.mkdtemp()
    cfg = os.path.join(work, "herald.yaml")
    with open(cfg, "w") as f:
        f.write(f"herald:\n  ingest-token: {TOKEN}\nwebhooks: []\n")
    port = free_port()
    env = dict(os.environ, HERALD_DATA_DIR=os.path.join(work, "data"), HERALD_LISTEN=f"127.0.0.1:{port}", HERALD_LOG="warn")
    srv = subprocess.Popen([BIN, "serve", "-c", cfg], env=env, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    authorised_post(port)
    base = status(srv.pid)
    print(f"idle: {base}")
    results = {"idle_rss_mib": base["VmRSS"]}

    # 1. Silent connections beyond the cap.
    socks, opened = [], time.monotonic()
    for _ in range(1100):
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", port))
        socks.append(s)
    time.sleep(1)
    held = status(srv.pid)
    code, waited = authorised_post(port)
    closed_at = []
    deadline = time.monotonic() + 30
    pending = list(socks)
    while pending and time.monotonic() < deadline:
        still = []
        for s in pending:
            try:
                if s.recv(1) == b"":
                    closed_at.append(time.monotonic() - opened)
                    s.close()
                    continue
            except BlockingIOError:
                still.append(s)
                continue
            except OSError:
                closed_at.append(time.monotonic() - opened)
                s.close()
                continue
            still.append(s)
        pending = still
        time.sleep(0.05)
    print(f"1,100 silent: server {held}; a client with the token waited {waited:.1f} s ({code}); "
          f"closed {len(closed_at)} of 1,100, the last after {max(closed_at or [0]):.1f} s")
    results["silent"] = {"server": held, "authorised_wait_s": round(waited, 1), "status": code,
                         "closed": len(closed_at), "last_closed_after_s": round(max(closed_at or [0]), 1)}

    # 2. Requests without the token announcing and sending 1 MiB each, 32 at a time.
    mib = b"x" * (1024 * 1024)
    peak = [0]

    def one():
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            s.sendall(b"POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1048576\r\n\r\n")
            try:
                s.sendall(mib)
            except OSError:
                pass
            s.recv(4096)
            s.close()
        except OSError:
            pass

    t = time.monotonic()
    for _ in range(2000 // 32):
        ts = [threading.Thread(target=one) for _ in range(32)]
        [x.start() for x in ts]
        [x.join() for x in ts]
        peak[0] = max(peak[0], status(srv.pid)["VmRSS"])
    after = status(srv.pid)
    print(f"2,000 unauthorised 1 MiB posts in {time.monotonic() - t:.1f} s: server {after}, RSS peak seen {peak[0]} MiB")
    results["unauthorised_posts"] = {"server": after, "rss_peak_seen_mib": peak[0]}

    # 3. HTTP/2 prior knowledge on 200 connections.
    preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"
    answers = set()
    for _ in range(200):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(preface)
        try:
            answers.add(s.recv(12)[:12])
        except OSError:
            answers.add(b"<closed>")
        s.close()
    h2 = status(srv.pid)
    print(f"200 HTTP/2 prefaces: answers {answers}; server {h2}")
    results["h2"] = {"answers": sorted(a.decode(errors="replace") for a in answers), "server": h2}
    srv.terminate()
    srv.wait()
    print(json.dumps(results))


if __name__ == "__main__":
    main()
