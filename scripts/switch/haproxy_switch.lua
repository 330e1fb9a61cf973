-- The HAProxy recipe's maintenance endpoint service (`maintenance-endpoint proxy-config --kind
-- haproxy`): whenever a visitor gets the endpoint's answer (the app is down or answers
-- 502/503/504, or the maintenance switch is on), this service asks the endpoint with a new request
-- and answers with what it got. `maintenance-endpoint switch install --kind haproxy` writes this
-- file (default /etc/haproxy/maintenance-endpoint.lua), and the recipe loads it
-- (lua-load-per-thread).
--
-- Why a service: HAProxy 2.6 cannot drop a request body, so a request passed to the endpoint
-- would carry the visitor's body to CloudFront. Here the visitor's body is never read into the new
-- request: the endpoint is asked with a bodiless GET (HEAD for a HEAD), which it answers like any
-- other method (503, Retry-After, the page), and that answer goes back to the visitor.
--
-- The question goes to the recipe's relay frontend (its address is in the transaction variable
-- txn.maintenance_relay), which keeps only the request headers the endpoint may see, passes the
-- question to the endpoint with the recipe's TLS, SNI, Host, certificate check and DNS, and drops
-- the endpoint's response headers that must not reach the visitor: this file holds no address,
-- name, certificate or header list of its own (they are in the generated configuration, from
-- scripts/proxies/behaviour.py).

-- Headers that describe a connection or a message's framing, not the request or the answer
-- (RFC 9110, 7.6.1); never copied. (Host is the endpoint's, set by the relay.)
local NOT_COPIED = {
    ["connection"] = true, ["keep-alive"] = true, ["proxy-connection"] = true, ["te"] = true,
    ["trailer"] = true, ["transfer-encoding"] = true, ["upgrade"] = true, ["content-length"] = true,
    ["host"] = true,
}

local function first(values)
    return values and values[0]
end

-- Header values as HAProxy's Lua API gives them: a table indexed from 0, in order.
local function each(values)
    local i = -1
    return function()
        i = i + 1
        return values[i]
    end
end

-- The endpoint's answer to a bodiless GET (HEAD for a HEAD) for `target`, or nil when the relay
-- did not answer at all.
-- The headers, as name -> list of values, less those NOT_COPIED.
local function copied(from)
    local headers = {}
    for name, values in pairs(from) do
        if not NOT_COPIED[name] then
            local list = {}
            for value in each(values) do
                list[#list + 1] = value
            end
            headers[name] = list
        end
    end
    return headers
end

local function ask(method, target, headers, relay)
    -- The request's path (and query); "/" for a target without one (`OPTIONS *`,
    -- `GET http://host`): the endpoint answers every path alike.
    if not target or target:sub(1, 1) ~= "/" then
        target = "/"
    end
    local request = {url = "http://maintenance-endpoint" .. target, headers = headers, dst = relay}
    local client = core.httpclient()
    local answer
    if method == "HEAD" then
        answer = client:head(request)
    else
        answer = client:get(request)
    end
    if answer and answer.status and answer.status > 0 then
        return answer
    end
    return nil
end

-- (status, reason, headers {name = {values}}, body) for the visitor: the endpoint's answer, or
-- a bodiless 502 when the relay did not answer (HAProxy's own 502/503/504 from the relay are
-- answers and pass through): what nginx does when the endpoint cannot be reached.
local function for_visitor(ok, answer, head)
    if not ok or not answer then
        if not ok then
            core.Alert("maintenance_endpoint: " .. tostring(answer))
        end
        return 502, nil, {["cache-control"] = {"no-store"}}, ""
    end
    local headers = copied(answer.headers or {})
    local body = answer.body or ""
    if head then
        body = ""
        local length = first((answer.headers or {})["content-length"])
        if length then
            headers["content-length"] = {length}
        end
    end
    return answer.status, answer.reason, headers, body
end

-- The service (`http-request use-service lua.maintenance_endpoint`): while the switch is on, and
-- as the app backend's backup server (the app refuses or drops connections).
core.register_service("maintenance_endpoint", "http", function(applet)
    local head = applet.method == "HEAD"
    local headers = copied(applet.headers)
    local target = applet.path
    if target and applet.qs and applet.qs ~= "" then
        target = target .. "?" .. applet.qs
    end
    local ok, answer = pcall(ask, applet.method, target, headers, applet:get_var("txn.maintenance_relay"))
    local status, reason, out, body = for_visitor(ok, answer, head)
    applet:set_status(status, reason)
    for name, values in pairs(out) do
        for _, value in ipairs(values) do
            applet:add_header(name, value)
        end
    end
    if not out["content-length"] then
        applet:add_header("content-length", tostring(#body))
    end
    applet:start_response()
    if #body > 0 then
        applet:send(body)
    end
end)

-- The action (`http-response lua.maintenance_failover`): the app answered 502/503/504. By then
-- HAProxy has passed the request on and no longer holds it: the frontend kept what the endpoint
-- may learn of it in transaction variables (the method, the target, and the forwarded headers,
-- named in txn.maintenance_forward (separated by "/"), each in txn.maintenance_fwd_<name with _ for ->).
core.register_action("maintenance_failover", {"http-res"}, function(txn)
    local method = txn:get_var("txn.maintenance_method") or "GET"
    local headers = {}
    for name in (txn:get_var("txn.maintenance_forward") or ""):gmatch("[^/]+") do
        local value = txn:get_var("txn.maintenance_fwd_" .. name:gsub("%-", "_"))
        if value then
            headers[name] = {value}
        end
    end
    local ok, answer = pcall(ask, method, txn:get_var("txn.maintenance_target"), headers,
                             txn:get_var("txn.maintenance_relay"))
    local head = method == "HEAD"
    local status, reason, out, body = for_visitor(ok, answer, head)
    local length = out["content-length"]
    if head and length and tonumber(length[1]) then
        -- HAProxy sets the reply's Content-Length from its body, and sends no body to a HEAD.
        body = string.rep(" ", tonumber(length[1]))
    end
    out["content-length"] = nil
    txn:done(txn:reply({status = status, reason = reason, headers = out, body = body}))
end)
