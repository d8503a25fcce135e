-- wrk script: POST the request body in $KUN_BENCH_BODY (JSON) to the URL given on the command line.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = assert(io.open(os.getenv("KUN_BENCH_BODY"), "rb"))
wrk.body = f:read("*a")
f:close()
