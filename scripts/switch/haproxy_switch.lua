-- The HAProxy recipe's maintenance switch (`maintenance-endpoint proxy-config --kind haproxy
-- --state-dir DIR`): while the switch is on, the public's requests are answered by this service
-- instead of being passed on. `maintenance-endpoint switch install` writes this file (default
-- /etc/haproxy/maintenance-endpoint.lua), and the recipe loads it (lua-load-per-thread).
--
-- Why a service: HAProxy 2.6 cannot drop a request body, so a request passed to the endpoint
-- would carry the client's body to CloudFront. Here the client's body is never read into the
-- new request: the endpoint is asked with a bodiless GET (HEAD for a HEAD), which it answers
-- like any other method (503, Retry-After, the page), and that answer goes back to the client.
--
-- The question goes to the recipe's relay frontend (its address is in the transaction variable
-- txn.maintenance_relay), which passes it to the endpoint with the recipe's TLS, SNI, Host,
-- certificate check and DNS: this file holds no address, name or certificate of its own.

-- Request headers the endpoint may use; no cookie or credential leaves for the endpoint.
local FORWARDED = {"accept", "accept-encoding", "accept-language", "user-agent"}

-- Response headers that describe the relay's connection, not the answer (RFC 9110, 7.6.1),
-- and the length, which is set from the body received.
local NOT_COPIED = {
    ["connection"] = true, ["keep-alive"] = true, ["proxy-connection"] = true, ["te"] = true,
    ["trailer"] = true, ["transfer-encoding"] = true, ["upgrade"] = true, ["content-length"] = true,
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

-- The endpoint's answer for this request, or nil when the relay did not answer at all.
local function ask(applet)
    local headers = {}
    for _, name in ipairs(FORWARDED) do
        local value = first(applet.headers[name])
        if value then
            headers[name] = {value}
        end
    end
    -- The request's path (and query); "/" for a target without one (`OPTIONS *`,
    -- `GET http://host`): the endpoint answers every path alike.
    local target = applet.path
    if not target or target:sub(1, 1) ~= "/" then
        target = "/"
    end
    if applet.qs and applet.qs ~= "" then
        target = target .. "?" .. applet.qs
    end
    local request = {url = "http://maintenance-endpoint" .. target, headers = headers,
                     dst = applet:get_var("txn.maintenance_relay")}
    local client = core.httpclient()
    local answer
    if applet.method == "HEAD" then
        answer = client:head(request)
    else
        answer = client:get(request)
    end
    if answer and answer.status and answer.status > 0 then
        return answer
    end
    return nil
end

core.register_service("maintenance_endpoint", "http", function(applet)
    local head = applet.method == "HEAD"
    local ok, answer = pcall(ask, applet)
    if not ok or not answer then
        -- No answer from the relay (HAProxy's own 502/503/504 from the relay are answers and
        -- pass through below): what nginx does when the endpoint cannot be reached.
        if not ok then
            core.Alert("maintenance_endpoint: " .. tostring(answer))
        end
        applet:set_status(502)
        applet:add_header("content-length", "0")
        applet:add_header("cache-control", "no-store")
        applet:start_response()
        return
    end

    applet:set_status(answer.status, answer.reason)
    local headers = answer.headers or {}
    for name, values in pairs(headers) do
        if not NOT_COPIED[name] then
            for value in each(values) do
                applet:add_header(name, value)
            end
        end
    end
    local body = answer.body or ""
    if head then
        local length = first(headers["content-length"])
        if length then
            applet:add_header("content-length", length)
        end
    else
        applet:add_header("content-length", tostring(#body))
    end
    applet:start_response()
    if not head and #body > 0 then
        applet:send(body)
    end
end)
