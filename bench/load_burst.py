#!/usr/bin/env python3
"""Submits 200 jobs at once to a running `faro local` and reports how they
ended: states, failed attempts, re-runs, wall time, and the process's RSS
before, at the peak and 12 s after (tests/load.rs asserts the same).

    faro local --listen 127.0.0.1:18080 --slots 2 &
    bench/load_burst.py 18080 $! 200 SPEC.yaml     # PORT PID CLIENTS SPEC
"""
import json
import sys
import threading
import time
import urllib.request

port, pid, clients, spec_path = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
JOBS = 200
spec = open(spec_path, "rb").read()


def rss_mib():
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) // 1024


def submit():
    request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/jobs", data=spec,
                                     headers={"content-type": "application/json"})
    return json.load(urllib.request.urlopen(request))["id"]


def job(job_id):
    return json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/jobs/{job_id}"))


first = submit()
while job(first)["state"] not in ("finished", "failed"):
    time.sleep(0.05)
base = rss_mib()
ids, lock = [], threading.Lock()


def client():
    for _ in range(JOBS // clients):
        job_id = submit()
        with lock:
            ids.append(job_id)


started = time.time()
threads = [threading.Thread(target=client) for _ in range(clients)]
for t in threads:
    t.start()
for t in threads:
    t.join()
states, reruns, failed, peak = {}, 0, 0, base
for job_id in ids:
    while True:
        status = job(job_id)
        peak = max(peak, rss_mib())
        if status["state"] in ("finished", "failed", "cancelled"):
            break
        time.sleep(0.02)
    states[status["state"]] = states.get(status["state"], 0) + 1
    reruns += sum(status["reruns"].values())
    failed += sum(1 for t in status["tasks"] for a in t["attempts"] if a["state"] == "failed")
took = time.time() - started
time.sleep(12)
print(f"states={states} took={took:.1f}s failed_attempts={failed} reruns={reruns} "
      f"rss before={base} peak={peak} after={rss_mib()} MiB")
