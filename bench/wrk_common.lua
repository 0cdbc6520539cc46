-- wrk_common.lua: shared by bench/readyz.lua, bench/gate.lua and
-- bench/forecast.lua (loaded with dofile). Counts responses by status class
-- in every thread and prints one parseable line at the end:
--
--   KGBENCH label=... conns=N duration_s=F requests=N rps=F p50_ms=F p90_ms=F
--     p99_ms=F max_ms=F non2xx=N s4xx=N s5xx=N connect_err=N read_err=N
--     write_err=N timeouts=N
--
-- Environment: KG_LABEL (free text without spaces), KG_CONNS (the -c given to
-- wrk; only echoed). Latencies come from wrk's own histogram (--latency is
-- not needed for the line, but run.sh passes it for the human summary).

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

n2xx, n3xx, n4xx, n5xx = 0, 0, 0, 0

function response(status, headers, body)
  if status < 300 then n2xx = n2xx + 1
  elseif status < 400 then n3xx = n3xx + 1
  elseif status < 500 then
    n4xx = n4xx + 1
    if n4xx <= 3 then io.stderr:write("wrk: HTTP " .. status .. ": " .. tostring(body):sub(1, 300) .. "\n") end
  else
    n5xx = n5xx + 1
    if n5xx <= 3 then io.stderr:write("wrk: HTTP " .. status .. ": " .. tostring(body):sub(1, 300) .. "\n") end
  end
end

-- Reads non-empty lines of a file into a table.
function kg_read_lines(path)
  local f = assert(io.open(path, "r"), "cannot open " .. tostring(path))
  local out = {}
  for line in f:lines() do
    line = line:gsub("%s+$", "")
    if #line > 0 then out[#out + 1] = line end
  end
  f:close()
  return out
end

function done(summary, latency, requests)
  local s3, s4, s5 = 0, 0, 0
  for _, t in ipairs(threads) do
    s3 = s3 + (t:get("n3xx") or 0)
    s4 = s4 + (t:get("n4xx") or 0)
    s5 = s5 + (t:get("n5xx") or 0)
  end
  local e = summary.errors
  local secs = summary.duration / 1e6
  io.write(string.format(
    "KGBENCH label=%s conns=%s duration_s=%.2f requests=%d rps=%.1f p50_ms=%.2f p90_ms=%.2f " ..
    "p99_ms=%.2f max_ms=%.2f non2xx=%d s4xx=%d s5xx=%d connect_err=%d read_err=%d " ..
    "write_err=%d timeouts=%d\n",
    os.getenv("KG_LABEL") or "run", os.getenv("KG_CONNS") or "?", secs, summary.requests,
    summary.requests / secs, latency:percentile(50) / 1e3, latency:percentile(90) / 1e3,
    latency:percentile(99) / 1e3, latency.max / 1e3, s3 + s4 + s5, s4, s5,
    e.connect, e.read, e.write, e.timeout))
end
