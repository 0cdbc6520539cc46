"""The long form of test_ingest_large.py: a 500,000-record export in one request, as CSV
and as NDJSON, with the service's resident memory measured while it is read and stored.
Too slow for the test command (about 2 minutes), so not named test_*.py; run it with

    scripts/test.sh --quick tests/api/long_ingest_500k.py

It prints a KGLONG line per upload (records, body MiB, seconds, peak RSS MiB) and fails when
an upload is not stored whole, a re-send is not all duplicates, or the peak resident memory
during an upload exceeds RSS_LIMIT_MIB."""
import threading
import time

from estate import create_host, now_s
from harness import expect, expect_problem, expect_status, q

HOST = "kms01.corp.example"
N = 500000
# The body is held once (ulfius buffers it) and read in place; a batch of 10,000 events and
# its COPY text come on top. 1.5 x the largest body here plus 64 MiB of slack.
RSS_LIMIT_MIB = 320
PREAMBLE = "An activation request has been processed.\r\nInfo:\r\n"


def info(i):
    return ("0x0, 25, pc-%06d.corp.example, 6a1f2c7e-0b4d-4f0e-%04x-%012x, 2026/11/20 9:14, 1, 1,"
            " 259200, 73111121-5638-40f6-bc11-f1d7b0d64300" % (i, 0x8000 | (i >> 48),
                                                              i & 0xFFFFFFFFFFFF))


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def csv_body(start):
    rows = ['"TimeCreated","Message"']
    rows += ['"%s","%s%s"' % (iso(start - i // 8), PREAMBLE, info(i)) for i in range(N)]
    return ("\r\n".join(rows) + "\r\n").encode()


def ndjson_body(start):
    msg = PREAMBLE.replace("\r\n", "\\r\\n")
    lines = ['{"EventID":12290,"EventTime":"%s","Message":"%s%s"}'
             % (iso(start - i // 8).replace("T", " ").rstrip("Z"), msg, info(i)) for i in range(N)]
    return ("\n".join(lines) + "\n").encode()


def rss_mib(pid, field="VmRSS"):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def measured_upload(svc, c, body, content_type):
    """Uploads body, sampling the service's RSS every 50 ms. Returns (answer, seconds, peak)."""
    peak = [rss_mib(svc.proc.pid)]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], rss_mib(svc.proc.pid))
            time.sleep(0.05)

    t = threading.Thread(target=sample)
    t.start()
    t0 = time.time()
    try:
        r = c.request("POST", "/v1/kms-hosts/%s/activations" % q(HOST), raw=body,
                      content_type=content_type, timeout=900)
    finally:
        done.set()
        t.join()
    return r, time.time() - t0, peak[0]


def test_500000_records_in_one_request_with_bounded_memory(svc):
    c = svc.client()
    create_host(c)
    start = now_s() - 86400
    for name, content_type, make in (("csv", "text/csv", csv_body),
                                     ("ndjson", "application/x-ndjson", ndjson_body)):
        body = make(start)
        for attempt in ("first", "re-send"):
            r, seconds, peak = measured_upload(svc, c, body, content_type)
            expect_status(r, 200)
            print("KGLONG format=%s upload=%s records=%d body_mib=%.1f seconds=%.1f"
                  " peak_rss_mib=%.1f accepted=%d duplicates=%d"
                  % (name, attempt, N, len(body) / 1048576.0, seconds, peak, r.json["accepted"],
                     r.json["duplicates"]), flush=True)
            expect(r.json["records"] == N and r.json["rejected"] == [], r.json["rejected"][:3])
            if attempt == "first" and name == "csv":
                expect(r.json["accepted"] == N, r.json["accepted"])
            else:  # the NDJSON holds the same requests (its times to the second)
                expect(r.json["accepted"] == 0 and r.json["duplicates"] == N, r.json["accepted"])
            expect(peak < RSS_LIMIT_MIB, "peak RSS %.1f MiB" % peak)
        del body
    expect(svc.sql("SELECT count(*) FROM activation_requests") == [[str(N)]])
    # One byte over 256 MiB is refused whole.
    big = b" " * (256 * 1024 * 1024 + 1)
    doc = expect_problem(c.request("POST", "/v1/kms-hosts/%s/activations" % q(HOST), raw=big,
                                   content_type="text/csv", timeout=300), 413)
    expect("larger than" in doc["detail"], doc)
