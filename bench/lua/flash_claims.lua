-- wrk script: the flash-sale burst. Buyers claim in turn, over and over for the run's duration
-- (each request with its own Idempotency-Key), so every buyer claims more than once.
-- args: <tokens file: "token address_id" per line> <session_id> <item_id>
local buyers = {}
local session_id, item_id
local index = 0

function init(args)
  for line in io.lines(args[1]) do
    local token, address = line:match("^(%S+)%s+(%d+)$")
    if token then buyers[#buyers + 1] = { token = token, address = address } end
  end
  session_id, item_id = args[2], args[3]
end

function request()
  index = index + 1
  local buyer = buyers[((index - 1) % #buyers) + 1]
  local body = '{"session_id":' .. session_id .. ',"item_id":' .. item_id .. ',"quantity":1,"delivery_mode":"express","address_id":' .. buyer.address .. '}'
  return wrk.format("POST", "/api/v1/flash-sales/claims", {
    ["Authorization"] = "Bearer " .. buyer.token,
    ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = "fs-" .. index,
  }, body)
end

-- Status counts, printed at the end (the bench reads them back from wrk's output).
local threads = {}
function setup(thread) threads[#threads + 1] = thread end
c201, c202, c409, c4xx, c5xx = 0, 0, 0, 0, 0
function response(status, headers, body)
  if status == 201 then c201 = c201 + 1
  elseif status == 202 then c202 = c202 + 1
  elseif status == 409 then
    c409 = c409 + 1
    local code = body:match('"error":"([%w_]+)"') or "?"
    _G["e_" .. code] = (_G["e_" .. code] or 0) + 1
    codes = (codes or "")
    if not codes:find(code, 1, true) then codes = codes .. code .. " " end
  elseif status >= 500 then c5xx = c5xx + 1
  else c4xx = c4xx + 1 end
end
function done(summary, latency, requests)
  local a, q, b, c, d = 0, 0, 0, 0, 0
  for _, t in ipairs(threads) do
    a = a + t:get("c201"); q = q + t:get("c202"); b = b + t:get("c409"); c = c + t:get("c4xx"); d = d + t:get("c5xx")
  end
  local detail = ""
  for _, t in ipairs(threads) do
    for code in (t:get("codes") or ""):gmatch("%S+") do
      detail = detail .. " " .. code .. "=" .. tostring(t:get("e_" .. code))
    end
  end
  io.write(string.format("STATUS 201=%d 202=%d 409=%d other4xx=%d 5xx=%d;%s\n", a, q, b, c, d, detail))
end
