-- goh2: HTTP/2 decoded by Go (golang.org/x/net/http2 and hpack).
-- This script only maps the Go library's results onto Wireshark: every
-- protocol decision (framing, HPACK, flow control, errors, heuristics) is
-- made in Go, in one call per TCP payload on the first pass.

local common = dofile(debug.getinfo(1, "S").source:sub(2):match("^(.*[/\\])") .. "gotcpdump.luainc")
local shim, call = common.shim, common.call
local goh2 = common.protos.goh2

goh2.prefs.ports = Pref.range("TCP ports", "", "TCP ports decoded as HTTP/2 without heuristics", 65535)
goh2.prefs.tls_alpn = Pref.bool("Decode TLS with ALPN h2", true,
    "Take decrypted TLS connections that negotiated ALPN h2 from the built-in http2 dissector")
goh2.prefs.max_streams = Pref.uint("Max streams per connection", 10000, "Streams tracked per connection; the least recently used are forgotten")
goh2.prefs.max_header_list = Pref.uint("Max header list size", 1048576, "Decoded header octets kept per header block")
goh2.prefs.max_table = Pref.uint("Max HPACK table size", 65536, "Largest HPACK dynamic table a peer may set up")
goh2.prefs.max_continuation = Pref.uint("Max CONTINUATION frames", 64, "CONTINUATION frames per header block before an expert note")
goh2.prefs.max_frame = Pref.uint("Max frame length", 16777215, "Largest frame reassembled")
goh2.prefs.max_conns = Pref.uint("Max connections", 100000, "Connections tracked; the least recently used are forgotten")

local NOT_MINE = 1
local ordinals = common.new_ordinals("goh2")
local gogrpc_proto = common.protos.gogrpc
local reassembled_in = common.field["gogrpc.reassembled_in"]

-- Where the shim knows this Wireshark's packet_info (4.0 and 4.4), it
-- makes the whole call itself (shim.stream): gathering the arguments and
-- applying the result through the Lua API cost as much as Go's decoding.
-- lua_dissect below makes the same calls for other versions.
local in_c = shim.layout()

-- Where it can, the shim also dissects the later payloads of a connection
-- that the heuristic claimed (shim.conversation, shim.claim), so that they
-- do not pass through a Lua dissector at all.
local c_conversation = in_c and shim.conversation("goh2", common.OP_H2, "GOH2",
    common.expert["goh2.internal_error"], "gogrpc", "gogrpc.reassembled_in")

-- Later passes: the frames where gRPC messages that this frame carried
-- part of were reassembled.
local function add_links(tvb, tree, links)
    if links and common.has_tree(tree) then
        local t = tree:add(gogrpc_proto, tvb(0, 0)):set_text("gRPC message fragment")
        for i = 1, #links do
            t:add(reassembled_in, tvb(0, 0), links[i]):set_generated()
        end
    end
end

local function lua_dissect(tvb, pinfo, tree, heuristic)
    if pinfo.in_error_pkt then
        return 0 -- quoted by an ICMP error: not the connection's next octets
    end
    local num, ord = ordinals:begin(pinfo)
    local ok, msg
    if not pinfo.visited then
        local ends = tostring(pinfo.src) .. " " .. pinfo.src_port .. "\n" .. tostring(pinfo.dst) .. " " .. pinfo.dst_port
        local sec, nsec = common.split_time(pinfo.abs_ts)
        -- After "no later pass" (0: keep the result), the octets that a snap
        -- length cut off, after which Go looks for the next frame.
        ok, msg = shim.run(common.OP_H2, tvb:raw(), ends, heuristic and 1 or 0, pinfo.can_desegment > 0 and 0 or 1,
            sec, nsec, num, ord, 0, tvb:reported_len() - tvb:len())
    else
        -- Later passes show what the first pass found: Go kept it.
        -- Go renders only a result decoded from these octets.
        ok, msg = shim.run(common.OP_FETCH, tvb:raw(), "", common.OP_H2, num, ord)
        if ok == false then
            return 0 -- not ours on the first pass either
        end
    end
    if common.failed(goh2, tvb, tree, ok, msg) then
        return 0
    end

    -- {status, consumed, need, {item...}, info, experts [, links]}
    local r = shim.result(4)
    if r[1] == NOT_MINE then
        return 0
    end
    local consumed, need = r[2], r[3]
    -- The shim adds the items to the tree; without a tree it only reports
    -- their expert infos.
    shim.render(tree, tvb, pinfo, r[4])
    local info, _, links = shim.rest()
    if need ~= 0 then
        pinfo.desegment_offset = consumed
        pinfo.desegment_len = need > 0 and need or DESEGMENT_ONE_MORE_SEGMENT
    end
    if info then
        pinfo.cols.protocol = "GOH2"
        if pinfo.private.goh2_info then
            pinfo.cols.info:append(", " .. info)
        else
            pinfo.cols.info:set(info)
            pinfo.private.goh2_info = "1"
        end
    end
    add_links(tvb, tree, links)
    return tvb:len()
end

local function dissect(tvb, pinfo, tree, heuristic)
    if not in_c then
        return lua_dissect(tvb, pinfo, tree, heuristic)
    end
    local n, links = shim.stream(common.OP_H2, "GOH2", tvb, pinfo, tree, heuristic)
    if common.failed(goh2, tvb, tree, n, links) then
        return 0
    end
    add_links(tvb, tree, links)
    return n
end

function goh2.dissector(tvb, pinfo, tree)
    return dissect(tvb, pinfo, tree, false)
end

-- On TCP, a claimed connection's later packets come straight to goh2.
goh2:register_heuristic("tcp", function(tvb, pinfo, tree)
    if dissect(tvb, pinfo, tree, true) == 0 then
        return false
    end
    if c_conversation then
        shim.claim(pinfo)
    else
        pinfo.conversation = goh2
    end
    return true
end)

-- Inside decrypted TLS the conversation belongs to TLS: setting it would
-- hand goh2 the ciphertext. Go remembers the connection instead.
goh2:register_heuristic("tls", function(tvb, pinfo, tree)
    return dissect(tvb, pinfo, tree, true) ~= 0
end)

-- TLS hands a connection that negotiated ALPN h2 to that table's entry
-- alone, and Wireshark calls no disabled dissector: with goh2 disabled
-- (--disable-protocol goh2, Analyze > Enabled Protocols) the entry goes
-- back to the built-in http2, else the connection would be shown as data.
-- Wireshark says what is enabled only at init, which a change of the
-- enabled protocols brings too.
local alpn = DissectorTable.get("tls.alpn")
-- Likewise http's table of protocols that an HTTP/1.1 Upgrade switches to:
-- h2c there is HTTP/2 after a 101 (curl --http2 on an http:// URL).
local upgrade = DissectorTable.get("http.upgrade")
local function apply_handoffs()
    local enabled = shim.enabled("goh2")
    if goh2.prefs.tls_alpn and enabled then
        alpn:add("h2", goh2)
    else
        alpn:add("h2", Dissector.get("http2"))
    end
    upgrade:add("h2c", enabled and goh2 or Dissector.get("http2"))
end

-- The ports of goh2.ports go to goh2 while it is enabled. The dissectors
-- they had (http's, on 80 or 8080) get them back when goh2 is disabled or
-- the preference changes: TCP would not call a disabled goh2 and try only
-- heuristics on them. A port whose entry is no longer goh2's (Decode As
-- changed it since) is left as it is.
local tcp_port = DissectorTable.get("tcp.port")
local taken_ports, port_owners = "", {}
local function each_port(range, f)
    for part in range:gmatch("[^,%s]+") do
        local lo, hi = part:match("^(%d+)%-(%d+)$")
        lo = tonumber(lo or part)
        if lo then
            for port = lo, math.min(tonumber(hi) or lo, 65535) do
                f(port)
            end
        end
    end
end
local function apply_ports()
    local want = shim.enabled("goh2") and goh2.prefs.ports or ""
    if want == taken_ports then
        return
    end
    each_port(taken_ports, function(port)
        local d = tcp_port:get_dissector(port)
        if d and tostring(d) == "GOH2" then
            if port_owners[port] then
                tcp_port:add(port, port_owners[port])
            else
                tcp_port:remove(port, goh2)
            end
        end
    end)
    port_owners = {}
    each_port(want, function(port)
        local d = tcp_port:get_dissector(port)
        if d and tostring(d) ~= "GOH2" then
            port_owners[port] = d
        end
        tcp_port:add(port, goh2)
    end)
    taken_ports = want
end

local function apply_prefs()
    apply_ports()
    apply_handoffs()
end
tcp_port:add_for_decode_as(goh2)
goh2.prefs_changed = apply_prefs
apply_prefs()

-- gogrpc decodes messages with their protobuf types when it has them.
local gogrpc = common.protos.gogrpc
gogrpc.prefs.descriptor_sets = Pref.string("Descriptor sets", "",
    "FileDescriptorSet files, separated by ':' (protoc --include_imports --descriptor_set_out=FILE, or buf build -o FILE)")
gogrpc.prefs.method_types = Pref.string("Message types by method", "",
    "For methods the sets do not give (or captures without HEADERS): PATH=REQUEST[,RESPONSE] entries separated by ';', e.g. /pkg.Svc/Get=pkg.GetRequest,pkg.GetReply")
gogrpc.prefs.ports = Pref.string("gRPC server ports", "",
    "For streams whose HEADERS were not captured: PORT=/pkg.Service/Method entries separated by ';' (an empty method: gRPC, method unknown)")
gogrpc.prefs.max_message = Pref.uint("Max message size", 4194304,
    "Octets of a message kept while it is reassembled (gRPC's default limit); a longer one is shown truncated")
gogrpc.prefs.max_decompressed = Pref.uint("Max decompressed size", 4194304, "A message that inflates further is refused as a decompression bomb")
gogrpc.prefs.max_ratio = Pref.uint("Max decompression ratio", 1000, "A message that inflates to more times its compressed size is refused")
gogrpc.prefs.max_depth = Pref.uint("Max protobuf nesting", 64,
    "Nested messages followed, with or without a schema; 0: without a schema, no bytes are tried as a message")
-- Go leaves out the entries of the preferences that are wrong (a port
-- entry that is not PORT=PATH, a type the sets lack, a set it cannot read)
-- and applies the rest: dissection goes on. Each problem is reported once,
-- though the preferences are applied more than once (init runs for every
-- file, and again after a change).
local reported_grpc = {}
local function apply_grpc_options()
    local p = gogrpc.prefs
    -- goh2 decodes gRPC on HTTP/2 itself: with gogrpc disabled
    -- (--disable-protocol gogrpc), it must not.
    local blob, msg = shim.call(common.OP_GRPC_OPTIONS, "", p.descriptor_sets .. "\n" .. p.method_types .. "\n" .. p.ports,
        p.max_message, p.max_decompressed, p.max_ratio, p.max_depth, shim.enabled("gogrpc") and 1 or 0)
    local problems = blob and shim.decode(blob) or ("gogrpc: " .. tostring(msg))
    local new = {}
    for line in problems:gmatch("[^\n]+") do
        if not reported_grpc[line] then
            reported_grpc[line] = true
            new[#new + 1] = line
        end
    end
    if #new > 0 then
        report_failure(table.concat(new, "\n"))
    end
end

-- gRPC-Web over HTTP/1.1: Wireshark's http dissector hands each whole
-- (de-chunked) body to the dissector of its media type.
gogrpc.prefs.web_http1 = Pref.bool("Decode gRPC-Web over HTTP/1.1", true,
    "Take application/grpc-web and application/grpc-web-text bodies from the built-in grpc dissector")
local WEB_TYPES = { "application/grpc-web", "application/grpc-web+proto", "application/grpc-web+json",
    "application/grpc-web-text", "application/grpc-web-text+proto" }
-- No field extractor reads http's request line: one makes Wireshark build
-- the tree of every packet. Go tells requests from responses by the
-- bodies, and takes the method from gogrpc.ports.
local web_ordinals = common.new_ordinals("gogrpc")
function gogrpc.dissector(tvb, pinfo, tree)
    if pinfo.in_error_pkt then
        return 0 -- quoted by an ICMP error: not the connection's next body
    end
    local num, ord = web_ordinals:begin(pinfo)
    local ok, msg
    if not pinfo.visited then
        local key = tostring(pinfo.src) .. " " .. pinfo.src_port .. "\n" .. tostring(pinfo.dst) .. " " .. pinfo.dst_port ..
            "\n" .. (pinfo.match_string or "")
        local sec, nsec = common.split_time(pinfo.abs_ts)
        ok, msg = shim.run(common.OP_GRPC_WEB, tvb:raw(), key, 0, sec, nsec, num, ord)
    else
        ok, msg = shim.run(common.OP_FETCH, tvb:raw(), "", common.OP_GRPC_WEB, num, ord)
        if ok == false then
            return 0
        end
    end
    if common.failed(gogrpc, tvb, tree, ok, msg) then
        return 0
    end
    local r = shim.result(2)
    pinfo.cols.protocol = "GOGRPC-Web"
    shim.render(tree, tvb, pinfo, r[2])
    return tvb:len()
end

-- Wireshark 4.4's http hands a chunked body whose type is in
-- streaming_content_type to that table's dissector piece by piece instead
-- of by media_type, and its grpc registers the gRPC-Web types there (4.0
-- has no such entries). gogrpc takes whole bodies: while it has the types,
-- grpc leaves that table for them, as in 4.0.
local has_streaming, streaming = pcall(DissectorTable.get, "streaming_content_type")
local streaming_taken = {}
-- The media types' own dissectors, given back when gogrpc does not take
-- the types: 4.4's grpc has one handle for gRPC-Web and one for
-- gRPC-Web-Text, and no one has application/grpc-web+json.
local media = DissectorTable.get("media_type")
local media_builtin = {}
for _, t in ipairs(WEB_TYPES) do
    local d = media:get_dissector(t)
    if d and tostring(d) ~= "GOGRPC" then
        media_builtin[t] = d
    end
end
-- Disabled (--disable-protocol gogrpc), gogrpc would not be called, and
-- http would show the bodies as media: grpc gets its entries back.
local function apply_grpc_prefs()
    apply_grpc_options()
    local take = gogrpc.prefs.web_http1 and shim.enabled("gogrpc")
    for _, t in ipairs(WEB_TYPES) do
        if take then
            media:add(t, gogrpc)
        elseif media_builtin[t] then
            media:add(t, media_builtin[t])
        else
            media:remove(t, gogrpc)
        end
        if has_streaming and streaming then
            local d = streaming:get_dissector(t)
            if take and d then
                streaming:remove(t, d)
                streaming_taken[t] = d
            elseif not take and streaming_taken[t] then
                streaming:add(t, streaming_taken[t])
                streaming_taken[t] = nil
            end
        end
    end
end
gogrpc.prefs_changed = apply_grpc_prefs

function goh2.init()
    local p = goh2.prefs
    call(common.OP_H2_OPTIONS, "", "", p.max_conns, p.max_streams, p.max_header_list, p.max_table,
        p.max_continuation, p.max_frame)
    shim.reset()
    apply_prefs()
    apply_grpc_prefs()
end

-- tshark -q -z gogrpc,calls: per method, calls, errors by code and
-- p50/p99/max latency, from the calls Go followed on the first pass.
-- -z gogrpc,calls,FILTER counts only the calls whose last packet (the
-- trailers, or the RST_STREAM) matches the display filter FILTER, as
-- Wireshark's own -z stats take one: Go keeps each call with the frame it
-- ended in, and a tap with the filter collects the frames that match.
local function calls_text()
    return shim.decode(call(common.OP_GRPC_CALLS, "", ""))
end
local CALLS = "gogrpc,calls"
register_stat_cmd_arg(CALLS, function(arg)
    local rest = arg:sub(#CALLS + 1)
    if rest ~= "" and rest:sub(1, 1) ~= "," then
        report_failure(("gogrpc: -z %s: want -z %s or -z %s,FILTER"):format(arg, CALLS, CALLS))
        return
    end
    local filter = rest:sub(2)
    if filter == "" then
        local tap = Listener.new("frame", "tcp")
        function tap.draw()
            io.write(calls_text())
        end
        return
    end
    local ok, tap = pcall(Listener.new, "frame", filter)
    if not ok then
        report_failure(("gogrpc: -z %s: %s"):format(arg, tostring(tap):gsub("^Error while registering tap:%s*", "")))
        return
    end
    call(common.OP_GRPC_CALLS, "", "", 1)
    local frames = {}
    function tap.packet(pinfo)
        frames[#frames + 1] = pinfo.number
    end
    function tap.reset()
        frames = {}
    end
    function tap.draw()
        io.write(shim.decode(call(common.OP_GRPC_CALLS, table.concat(frames, ","), filter, 2)))
    end
end)
if gui_enabled() then
    register_menu("gRPC calls (gogrpc)", function()
        TextWindow.new("gRPC calls"):set(calls_text())
    end, MENU_TOOLS_UNSORTED)
end
