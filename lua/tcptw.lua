-- tcptw: TIME_WAIT analysis of TCP connections, computed in Go (the same
-- engine as the twreport command). A postdissector: it sees every TCP
-- frame once Wireshark has dissected it, hands the whole frame to Go on
-- the first pass, and shows the verdict on every pass from the cache.

local common = dofile(debug.getinfo(1, "S").source:sub(2):match("^(.*[/\\])") .. "gotcpdump.luainc")
local shim, call = common.shim, common.call
local tcptw = common.protos.tcptw

tcptw.prefs.tw_seconds = Pref.uint("TIME_WAIT length (s)", 60,
    "Linux: a fixed 60 s (TCP_TIMEWAIT_LEN); tcp_fin_timeout does not change it")
tcptw.prefs.port_range = Pref.string("Ephemeral port range", "32768-60999", "The clients' ip_local_port_range")
tcptw.prefs.max_conns = Pref.uint("Max open connections", 1048576, "Open connections tracked; the least recently active are dropped")

local PT_TCP = 2

-- The shim registers a postdissector in C where it knows this Wireshark's
-- packet_info (4.0 and 4.4): a Lua postdissector costs 1-2 µs per frame
-- before doing anything, a third of tshark's own time per packet. It makes
-- the same calls as the function below, which serves other versions.
local function dissect(tvb, pinfo, tree)
    if pinfo.port_type ~= PT_TCP then
        return -- nothing to do for other traffic
    end
    local num = pinfo.number
    local ok, msg
    if not pinfo.visited then
        -- The ports let Go recognise the segment Wireshark saw; making the
        -- address strings would cost more than the rest of the call.
        local sec, nsec = common.split_time(pinfo.abs_ts)
        ok, msg = shim.run(common.OP_TCPTW, tvb:raw(), "", sec, nsec, num, 1, pinfo.src_port, pinfo.dst_port)
    else
        ok, msg = shim.run(common.OP_FETCH, "", "", common.OP_TCPTW, num, 1)
        if ok == false then
            return
        end
    end
    if common.failed(tcptw, tvb, tree, ok, msg) then
        return
    end
    local r = shim.result(2)
    if r[1] ~= 0 then
        -- A TCP segment inside another packet (an ICMP error, a tunnel):
        -- the engine tracks the frame's own.
        tree:add(tcptw):append_text(": not analysed (a TCP segment inside another packet)")
        return
    end
    shim.render(tree, tvb, pinfo, r[2])
end
if not shim.postdissector("tcptw", common.OP_TCPTW, PT_TCP, common.expert["goh2.internal_error"]) then
    tcptw.dissector = dissect
    register_postdissector(tcptw)
end

-- Values twreport refuses are reported, as its --port-range and
-- --tw-seconds are, and the defaults used instead; each once, though
-- init runs more than once.
local reported = {}
local function refuse(msg)
    if not reported[msg] then
        reported[msg] = true
        report_failure(msg)
    end
end

local function configure()
    local p = tcptw.prefs
    local lo, hi = p.port_range:match("^%s*(%d+)%s*%-%s*(%d+)%s*$")
    lo, hi = tonumber(lo), tonumber(hi)
    if not lo or lo < 1 or hi > 65535 or lo > hi then
        refuse(("tcptw: port range %q is not LOW-HIGH with 1 <= LOW <= HIGH <= 65535; using 32768-60999"):format(p.port_range))
        lo, hi = 32768, 60999
    end
    local secs = p.tw_seconds
    if secs == 0 then
        refuse("tcptw: a TIME_WAIT length of 0 s; using 60")
        secs = 60
    end
    call(common.OP_TCPTW_OPTIONS, "", "", secs * 1000, lo, hi, p.max_conns)
end

function tcptw.init()
    configure()
end

local function report_text()
    return shim.decode(call(common.OP_TCPTW_REPORT, "", "", 0, 0))
end

-- tshark -q -z tcptw,report prints the twreport report at the end. It
-- takes no argument: one given (a filter, "json") would be ignored
-- without a word.
local REPORT = "tcptw,report"
register_stat_cmd_arg(REPORT, function(arg)
    if arg ~= REPORT then
        report_failure(("tcptw: -z %s: want -z %s (twreport --json gives the report as JSON)"):format(arg, REPORT))
        return
    end
    local tap = Listener.new("frame", "tcp")
    function tap.draw()
        io.write(report_text())
    end
end)

-- Wireshark: Tools > TIME_WAIT report.
if gui_enabled() then
    register_menu("TIME_WAIT report (tcptw)", function()
        local win = TextWindow.new("TIME_WAIT report")
        win:set(report_text())
    end, MENU_TOOLS_UNSORTED)
end
