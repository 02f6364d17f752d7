-- wrk script: the logged question "may I send a letter?" (`POST /v1/decisions`) for one of
-- 1,000 accounts (L-0 … L-999) at random: the store reads the account's history under its
-- lock and logs the decision, recording no contact. Needs DUNNER_KEY (`decide` scope).
local key = os.getenv("DUNNER_KEY")
math.randomseed(os.time())

request = function()
  local body = '{"account_id":"L-' .. math.random(0, 999) .. '","channel":"letter","at":"2026-04-07T15:00:00Z"}'
  return wrk.format("POST", "/v1/decisions", {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. key,
  }, body)
end
