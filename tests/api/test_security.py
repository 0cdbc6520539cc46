"""Security properties that can be checked mechanically: SQL is only ever
built from constant text with parameters, tokens never reach logs, request
ids are not attacker-controlled in unsafe ways, tokens are stored hashed."""
import glob
import os
import re

from harness import DATA_DIR, Client, expect, no_service

SERVICE = os.path.join(DATA_DIR, "service")


def sources():
    for path in sorted(glob.glob(os.path.join(SERVICE, "*.c"))):
        with open(path, encoding="utf-8") as f:
            yield os.path.basename(path), f.read()


@no_service
def test_sql_is_constant_text_with_parameters():
    """Every libpq call takes a statement from a `struct kg_stmt` (constant
    text) or a string literal; no SQL is ever formatted at run time."""
    offenders = []
    calls = {}
    sql_word = re.compile(r'"[^"]*\b(SELECT|INSERT|UPDATE|DELETE|WITH)\b', re.I)
    for name, text in sources():
        for m in re.finditer(r"\b(PQexec|PQexecParams|PQprepare|PQsendQuery)\s*\(([^;]*)\)\s*;", text):
            call, args = m.group(1), m.group(2)
            calls[call] = calls.get(call, 0) + 1
            # PQsendQuery (db_pooling.c's start-up check, which must not wait
            # forever) is held to the rule of PQexec.
            if call in ("PQexec", "PQsendQuery") and \
                    not re.search(r",\s*(sql|\"[^\"]*\")\s*$", args):
                offenders.append((name, m.group(0)[:100]))
            if call == "PQprepare" and "stmt->sql" not in args:
                offenders.append((name, m.group(0)[:100]))
            if call == "PQexecParams":
                offenders.append((name, m.group(0)[:100]))
        for m in re.finditer(r"\b(s?n?printf|asprintf|strcat|strcpy)\s*\(([^;]*)\)\s*;", text):
            if sql_word.search(m.group(2)):
                offenders.append((name, m.group(0)[:100]))
    expect(not offenders, "SQL built at run time: %r" % offenders)
    expect(calls.get("PQexec", 0) >= 1 and calls.get("PQprepare", 0) >= 1,
           "the scan found no libpq calls: %r" % calls)
    # kg_db_simple() is the only PQexec: its callers pass literals or migration files.
    simple_calls = 0
    for name, text in sources():
        for m in re.finditer(r"kg_db_simple\s*\(\s*[a-z_]+\s*,\s*([^)]*)\)", text):
            arg = m.group(1).strip()
            simple_calls += 1
            expect(arg.startswith('"') or arg in ("sql", "m->sql", "begin_sql[isolation]"),
                   "%s: kg_db_simple(%s)" % (name, arg))
    expect(simple_calls >= 3, simple_calls)


def test_tokens_never_reach_the_log_and_are_stored_hashed(svc):
    hook = svc.create_token("hook", "secret-watch")
    c = Client(svc.port, hook)
    c.get("/v1/kms-hosts")
    c.get("/v1/kms-hosts", headers={"X-Request-Id": hook[:40]})
    Client(svc.port, hook + "x").get("/v1/kms-hosts")  # a wrong token, also not logged
    log = svc.log_text()
    expect(hook not in log and hook[3:20] not in log, "a token is in the log")
    expect('"token":"secret-watch"' in log, "requests are logged with the token's name")
    rows = svc.sql("SELECT encode(token_hash, 'hex') FROM api_tokens WHERE name = 'secret-watch'")
    expect(len(rows) == 1 and len(rows[0][0]) == 64 and hook not in rows[0][0], rows)
    rows = svc.sql("SELECT count(*) FROM api_tokens WHERE position('%s' in encode(token_hash, 'escape')) > 0"
                   % hook.replace("'", ""))
    expect(rows == [["0"]], rows)
