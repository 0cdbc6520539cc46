-- mixed.lua: a mixed load as an estate produces it: gates (no reserve), hooks
-- registering desktops, event uploads, and reads. Every write is new data
-- (unique desktop names and CMIDs per thread and request).
--
--   KG_TOKEN=... wrk -t2 -c64 -d60s --latency -s bench/mixed.lua \
--       http://127.0.0.1:PORT -- KMS_HOST POOL NAMES_FILE
--
-- Ten requests in turn: 4 gates, 1 desktop PUT, 1 upload of 20 events
-- (NDJSON), 4 reads (host, desktops page, forecast, decisions page).
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "wrk_common.lua")

local host, pool, names, headers, json_headers, ndjson_headers
local counter = 0
local tag = ""

function init(args)
  host, pool = args[1], args[2]
  local token = os.getenv("KG_TOKEN")
  assert(host and pool and args[3], "usage: -- KMS_HOST POOL NAMES_FILE")
  names = kg_read_lines(args[3])
  headers = { ["Authorization"] = "Bearer " .. token }
  json_headers = { ["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json" }
  ndjson_headers = { ["Authorization"] = "Bearer " .. token,
                     ["Content-Type"] = "application/x-ndjson" }
  tag = tostring(wrk.thread):gsub("[^%w]", ""):sub(-8) .. tostring(os.time() % 100000)
  math.randomseed(os.time())
end

local function cmid(n)
  -- A GUID unique per thread tag and counter.
  local h = 0
  for ch in tag:gmatch(".") do h = (h * 131 + ch:byte()) % 4294967296 end
  return string.format("%08x-%04x-4%03x-8%03x-%012x", h, counter % 65536, n % 4096, 0, counter * 100 + n)
end

function request()
  counter = counter + 1
  local kind = counter % 10
  if kind < 4 then
    local body = '{"kms_host":"' .. host .. '","decommission":{"desktops":["' ..
                 names[math.random(#names)] .. '"]}}'
    return wrk.format("POST", "/v1/gate", json_headers, body)
  elseif kind == 4 then
    return wrk.format("PUT", "/v1/desktops/load-" .. tag .. "-" .. counter .. ".bench.example",
                      json_headers, '{"pool":"' .. pool .. '"}')
  elseif kind == 5 then
    local lines = {}
    local at = os.date("!%Y-%m-%dT%H:%M:%SZ", os.time() - 3600)
    for i = 1, 20 do
      lines[i] = '{"cmid":"' .. cmid(i) .. '","client":"load-' .. tag .. '-' .. counter ..
                 '.bench.example","requested_at":"' .. at .. '"}'
    end
    return wrk.format("POST", "/v1/kms-hosts/" .. host .. "/activations", ndjson_headers,
                      table.concat(lines, "\n"))
  elseif kind == 6 then
    return wrk.format("GET", "/v1/kms-hosts/" .. host, headers)
  elseif kind == 7 then
    return wrk.format("GET", "/v1/desktops?limit=50", headers)
  elseif kind == 8 then
    return wrk.format("GET", "/v1/kms-hosts/" .. host .. "/forecast", headers)
  end
  return wrk.format("GET", "/v1/decisions?limit=10", headers)
end
