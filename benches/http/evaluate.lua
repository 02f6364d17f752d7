-- wrk script: the stateless question, the body of examples/decide-request.json.
-- Run the daemon with --open-evaluate (or add an Authorization header here).
local file = io.open("examples/decide-request.json", "r")
wrk.method = "POST"
wrk.body = file:read("*a")
file:close()
wrk.headers["Content-Type"] = "application/json"
