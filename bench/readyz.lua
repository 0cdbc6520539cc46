-- readyz.lua: GET /readyz (one trivial query on the worker's database
-- connection: the baseline the other rows are compared with).
--   wrk -t2 -c32 -d15s --latency -s bench/readyz.lua http://127.0.0.1:PORT
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "wrk_common.lua")

wrk.method = "GET"
wrk.path = "/readyz"
