"""HTTPS with KMSGATE_TLS_CERT and KMSGATE_TLS_KEY."""
import http.client
import os
import ssl
import subprocess
import tempfile
import time

from harness import Service, expect, no_service


@no_service
def test_tls_serves_https_with_the_given_certificate():
    tmp = tempfile.mkdtemp(prefix="kg-tls-")
    cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", key, "-out", cert], check=True, capture_output=True)
    svc = Service(extra_env={"KMSGATE_TLS_CERT": cert, "KMSGATE_TLS_KEY": key})
    try:
        svc.start(wait=False)
        context = ssl.create_default_context(cafile=cert)
        deadline, status = time.time() + 20, None
        while time.time() < deadline and status is None:
            try:
                conn = http.client.HTTPSConnection("127.0.0.1", svc.port, context=context, timeout=5)
                conn.request("GET", "/readyz")
                status = conn.getresponse().status
            except (OSError, ssl.SSLError):
                time.sleep(0.1)
        expect(status == 200, "HTTPS /readyz: %r\n%s" % (status, svc.log_text()[-2000:]))
        # Plain HTTP on the TLS port gets no answer.
        conn = http.client.HTTPConnection("127.0.0.1", svc.port, timeout=5)
        try:
            conn.request("GET", "/healthz")
            got = conn.getresponse().status
        except (OSError, http.client.HTTPException):
            got = None
        expect(got is None or got == 400, "plain HTTP answered %r" % got)
    finally:
        expect(svc.stop() == 0)
        svc.drop()
        subprocess.run(["rm", "-rf", tmp], check=False)
