-- forecast.lua: GET /v1/kms-hosts/{name}/forecast?horizon_days=45 (the same
-- estate load and model as the gate, read-only, no decision row).
--   KG_TOKEN=... wrk -t2 -c32 -d15s --latency -s bench/forecast.lua \
--       http://127.0.0.1:PORT -- KMS_HOST
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "wrk_common.lua")

function init(args)
  local host = assert(args[1], "usage: -- KMS_HOST")
  local token = assert(os.getenv("KG_TOKEN"), "KG_TOKEN is not set")
  wrk.method = "GET"
  wrk.path = "/v1/kms-hosts/" .. host .. "/forecast?horizon_days=45"
  wrk.headers["Authorization"] = "Bearer " .. token
end
