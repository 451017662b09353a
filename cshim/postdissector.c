/* postdissector: a postdissector registered from C for a Go operation that
 * wants every frame of one port type (tcptw: every TCP segment).
 *
 * Wireshark spends 1-2 µs calling any Lua postdissector, before it does
 * anything: a third of plain tshark's time per packet on a capture of
 * short connections, for every capture a user opens with the plugin. This
 * one makes the same call into Go that the Lua postdissector makes
 * (op on the first pass, GP_OP_FETCH on later ones) and renders the result
 * with render.c, all in C.
 *
 * It needs the frame's port type, ports and visited flag, which
 * packet_info holds at offsets that differ between Wireshark versions
 * (layout.c); on a version layout.c does not list, postdissector() returns
 * false and the Lua script registers its own postdissector, as before.
 *
 * "Reload Lua Plugins" in Wireshark deregisters the Lua protocols and
 * closes the Lua state, but cannot deregister a postdissector that is not
 * Lua's (libwireshark does not export that). So the handle belongs to no
 * protocol, is registered once for the life of the process (the shim is
 * never unloaded: luaopen_goshim pins it), and does nothing while no Lua
 * state has bound it: closing the state unbinds it, and the reloaded
 * script binds it again to its new protocol. Whether that protocol is
 * enabled is checked on every frame. */
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "goparser.h"
#include "shim.h"
#include "wireshark.h"

static const struct pinfo_layout *layout;
static dissector_handle_t pd_handle;
static int proto_expert = -1, expert_tap = -1; /* resolved at binding */
static int pd_bound;
static int pd_op, pd_proto;
static uint32_t pd_ptype;
static expert_field *pd_internal; /* for errors, as the Lua side reports them */

#define NOT_ANALYSED ": not analysed (a TCP segment inside another packet)"

/* The protocol's item, covering no bytes: at the root of the tree, where
 * Wireshark keeps it even when it keeps no other item. */
static proto_item *protocol_item(proto_tree *tree, tvbuff_t *tvb) {
    return proto_tree_add_item(tree, pd_proto, tvb, 0, 0, ENC_NA);
}

/* Reports an error under an item of the protocol, as common.failed does
 * in Lua. */
static void internal_error(packet_info *pinfo, proto_tree *tree, tvbuff_t *tvb, const char *msg, size_t n) {
    goshim_error_item(pinfo, tree, tvb, pd_proto, pd_internal, "", msg, n);
}

static void internal_errorz(packet_info *pinfo, proto_tree *tree, tvbuff_t *tvb, const char *msg) {
    internal_error(pinfo, tree, tvb, msg, strlen(msg));
}

/* --- Deferred frames ------------------------------------------------------
 *
 * A first pass that wants no items, counts no expert infos, filters on
 * none and fills no columns (tshark -q with -z io,stat, conv or
 * tcptw,report, say) sees nothing of the frame's result: the frame only
 * moves the engine on. Such frames are copied here and reach Go together,
 * one call per BATCH_FRAMES (GP_OP_TCPTW_BATCH): a call across the
 * boundary per frame cost more than the engine's work, and switching
 * between Wireshark's and Go's working sets at every frame made both
 * slower. Before any call that could read or change the engine's state
 * (goshim_call calls goshim_deferred_flush), they are handed over, in
 * order, so that a later pass, a report or the next frame with items finds
 * them done.
 *
 * Each call also costs on the runtime's side: while Go runs, and for a
 * while after it has returned to C, its monitor thread wakes every 20 us.
 * Over a million short frames, batches of 4,096 made 16,700 context
 * switches and added 0.22 to plain tshark's CPU time, batches of 16,384
 * 4,600 and 0.12; 65,536 (about 6 MiB of such frames) made 1,400 and took
 * a little less CPU than 16,384 in another series. A batch ends at
 * whichever limit comes first; a frame too large for a batch of its own
 * goes alone. The buffer (and Go's copy of it) lasts until the next
 * reset. */

#define BATCH_FRAMES 65536
#define BATCH_BYTES ((size_t)8 << 20)

static uint8_t *batch;
static size_t batch_len;
static unsigned batch_frames;

static void flush(void) {
    size_t n = batch_len, outlen;
    int64_t no_later_pass = goshim_no_later_pass(0);
    batch_len = 0;
    batch_frames = 0; /* first: goshim_call flushes too */
    /* Nobody sees the results of these frames, nor an error. */
    (void)goshim_call(GP_OP_TCPTW_BATCH, &no_later_pass, 1, "", 0, batch, n, &outlen);
}

void goshim_deferred_flush(int op, const int64_t *args, int nargs) {
    if (batch_frames == 0)
        return;
    /* The per-packet calls of the other protocols need not wait. */
    if (op == GP_OP_H2 || op == GP_OP_GRPC_WEB || (op == GP_OP_FETCH && nargs > 0 && args[0] != pd_op))
        return;
    /* New options come with Proto.init: the frames of the pass before
     * would only move an engine that is about to be replaced. */
    if (op == GP_OP_TCPTW_OPTIONS) {
        goshim_deferred_reset();
        return;
    }
    flush();
}

void goshim_deferred_reset(void) {
    free(batch);
    batch = NULL;
    batch_len = 0;
    batch_frames = 0;
}

static void put_le(uint8_t *p, uint64_t v, int n) {
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Whether nothing would see this frame's result on this pass. */
static int unseen(packet_info *pinfo, proto_tree *tree, int items) {
    void *cinfo;
    if (items)
        return 0;
    memcpy(&cinfo, (uint8_t *)pinfo + PINFO_CINFO, sizeof cinfo);
    return !cinfo && !(expert_tap > 0 && have_tap_listener(expert_tap)) &&
           !(tree && proto_expert >= 0 && proto_field_is_referenced(tree, proto_expert));
}

/* Copies the frame into the batch; false when it cannot (no memory, or a
 * frame larger than a batch), and the caller makes the call itself. */
static int defer(packet_info *pinfo, tvbuff_t *tvb) {
    unsigned len = tvb_captured_length(tvb);
    size_t need = GP_BATCH_HEADER + (size_t)len;
    int64_t sec, nsec;
    uint8_t *h;
    if (need > BATCH_BYTES)
        return 0;
    if (batch_frames > 0 && (batch_len + need > BATCH_BYTES || batch_frames >= BATCH_FRAMES))
        flush();
    if (!batch && !(batch = malloc(BATCH_BYTES)))
        return 0;
    pinfo_time(pinfo, &sec, &nsec);
    h = batch + batch_len;
    put_le(h, (uint64_t)sec, 8);
    put_le(h + 8, (uint64_t)nsec, 4);
    put_le(h + 12, pinfo_u32(pinfo, PINFO_NUM), 4);
    put_le(h + 16, pinfo_u32(pinfo, layout->srcport), 2);
    put_le(h + 18, pinfo_u32(pinfo, layout->destport), 2);
    put_le(h + 20, len, 4);
    if (len)
        memcpy(h + GP_BATCH_HEADER, tvb_get_ptr(tvb, 0, (int)len), len);
    batch_len += need;
    batch_frames++;
    return 1;
}

static int dissect_frame(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree) {
    int64_t args[8];
    size_t outlen = 0;
    int st;
    struct reader r;
    int64_t status;
    uint32_t count;
    const char *err;
    proto_item *pitem = NULL;
    /* Items only for a tree that shows them or a filter, column or tap
     * that reads one of the protocol's fields (Wireshark would fake the
     * others); without, Go sends the expert infos alone, which Wireshark
     * still counts. */
    int items = tree && proto_field_is_referenced(tree, pd_proto);

    if (!pinfo_visited(pinfo, layout)) {
        unsigned len = tvb_captured_length(tvb);
        if (unseen(pinfo, tree, items) && defer(pinfo, tvb)) {
            /* As above without items; the frame may turn out to be one
             * the engine does not decode, whose item nobody sees either. */
            if (tree)
                protocol_item(tree, tvb);
            return 0;
        }
        pinfo_time(pinfo, &args[0], &args[1]);
        args[2] = pinfo_u32(pinfo, PINFO_NUM);
        args[3] = 1;
        args[4] = pinfo_u32(pinfo, layout->srcport);
        args[5] = pinfo_u32(pinfo, layout->destport);
        args[6] = items;
        args[7] = goshim_no_later_pass(0);
        st = goshim_call(pd_op, args, 8, "", 0, len ? tvb_get_ptr(tvb, 0, (int)len) : NULL, len, &outlen);
    } else {
        args[0] = pd_op;
        args[1] = pinfo_u32(pinfo, PINFO_NUM);
        args[2] = 1;
        args[3] = items;
        st = goshim_call(GP_OP_FETCH, args, 4, "", 0, NULL, 0, &outlen);
        if (st == GP_NOT_FOUND)
            return 0;
    }
    if (st != GP_OK) {
        if (st == -1)
            internal_errorz(pinfo, tree, tvb, "goshim: result too large");
        else
            internal_error(pinfo, tree, tvb, (const char *)goshim_buf, outlen);
        return 0;
    }

    /* {status, {item...}, {expert...}}: the items hold the experts too. */
    r.p = goshim_buf;
    r.end = goshim_buf + outlen;
    if (!need(&r, 5) || r.p[0] != TAG_ARRAY || rd32(r.p + 1) < 2)
        goto malformed;
    r.p += 5;
    if (!goshim_read_int(&r, &status))
        goto malformed;
    if (status != 0) {
        /* A TCP segment inside another packet (an ICMP error, a tunnel):
         * the engine tracks the frame's own. */
        if (tree)
            proto_item_append_text(protocol_item(tree, tvb), NOT_ANALYSED);
        return 0;
    }
    if (!need(&r, 5) || r.p[0] != TAG_ARRAY)
        goto malformed;
    count = rd32(r.p + 1);
    goshim_cursor.p = r.p + 5;
    goshim_cursor.end = r.end;
    /* Without items, the protocol's item alone, with the expert infos
     * (-z io,phs counts it). */
    if (!items && tree)
        pitem = protocol_item(tree, tvb);
    if (!goshim_render_items(pinfo, tree, pitem, tvb, count, &err)) {
        internal_errorz(pinfo, tree, tvb, err);
        return 0;
    }
    return (int)tvb_captured_length(tvb);

malformed:
    internal_errorz(pinfo, tree, tvb, "goshim: malformed result");
    return 0;
}

/* The handle belongs to no protocol (see above), so this does what
 * Wireshark does for a protocol's dissector: checks that it is enabled,
 * and names it in pinfo->current_proto (expert infos say which protocol
 * reported them) while it runs. */
static int dissect(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data) {
    protocol_t *p;
    const char *saved;
    int n;
    (void)data;
    /* The port type first: most frames of other traffic stop here. */
    if (!pd_bound || pinfo_u32(pinfo, layout->ptype) != pd_ptype || !(p = find_protocol_by_id(pd_proto)) ||
        !proto_is_protocol_enabled(p))
        return 0;
    saved = pinfo_swap_proto(pinfo, proto_get_protocol_short_name(p));
    n = dissect_frame(tvb, pinfo, tree);
    pinfo_swap_proto(pinfo, saved);
    return n;
}

/* Unbinds the postdissector when the Lua state that bound it closes. */
static int unbind(lua_State *L) {
    (void)L;
    pd_bound = 0;
    return 0;
}

/* goshim.postdissector(proto, op, port_type, internal_error) -> true when
 * Wireshark now calls op for every frame whose pinfo.port_type is
 * port_type, while the protocol named proto (a Lua Proto, whose
 * preferences, init and enabled state stay Lua's) is enabled; false when
 * this Wireshark's packet_info layout is not known (or outside Wireshark),
 * and the caller registers a Lua postdissector instead. Setting
 * GOTCPDUMP_LUA_POSTDISSECTOR to a non-empty value forces false (tests). */
int goshim_postdissector(lua_State *L) {
    const char *name = luaL_checkstring(L, 1);
    int op = (int)luaL_checkinteger(L, 2);
    lua_Integer ptype = luaL_checkinteger(L, 3);
    void **ud = luaL_checkudata(L, 4, "ProtoExpert");
    const char *force_lua = getenv("GOTCPDUMP_LUA_POSTDISSECTOR");
    int proto;

    lua_pushboolean(L, 0);
    if ((force_lua && *force_lua) || !epan_get_version_number || !create_dissector_handle ||
        !register_postdissector || !proto_get_id_by_filter_name || !tvb_get_ptr || !proto_tree_add_item ||
        !find_protocol_by_id || !proto_is_protocol_enabled || !proto_get_protocol_short_name ||
        !proto_field_is_referenced || !find_tap_id || !have_tap_listener)
        return 1;
    if (pd_bound)
        return luaL_error(L, "goshim.postdissector: already bound");
    if (!(layout = goshim_layout()))
        return 1;
    if ((proto = proto_get_id_by_filter_name(name)) < 0)
        return luaL_error(L, "goshim.postdissector: no protocol %s", name);

    pd_op = op;
    pd_proto = proto;
    proto_expert = proto_get_id_by_filter_name("_ws.expert");
    expert_tap = find_tap_id("expert");
    pd_ptype = (uint32_t)ptype;
    pd_internal = (expert_field *)*ud;
    /* Kept for the life of this Lua state (a reload makes a new one, whose
     * script binds again). */
    goshim_keep_until_close(L, 4, unbind);
    if (!pd_handle) {
        pd_handle = create_dissector_handle(dissect, -1);
        register_postdissector(pd_handle);
    }
    pd_bound = 1;
    lua_pushboolean(L, 1);
    return 1;
}
