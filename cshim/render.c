/* render: Go's tree items straight into Wireshark's protocol tree.
 *
 * Lua's TreeItem:add costs about a microsecond per item (a TvbRange and a
 * TreeItem userdata, both kept until the end of the packet), which made
 * building the tree several times as costly as all of Go's decoding. This
 * walks the items {field, offset, length, value, text, flags [, {child…}]}
 * that result() left at the cursor and makes, for each, the calls that
 * TreeItem:add and its methods make. It still knows no protocol: fields,
 * experts and their types come from the schema through bind().
 *
 * The libwireshark functions and layouts it uses are in wireshark.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lauxlib.h>
#include <lua.h>

#include "shim.h"
#include "wireshark.h"

/* --- The schema: bind() ------------------------------------------------- */

enum ftype { F_NONE, F_PROTOCOL, F_BOOL, F_UINT, F_UINT64, F_INT, F_DOUBLE, F_STRING, F_BYTES, F_TIME, F_FRAMENUM };

static const struct {
    const char *name;
    enum ftype type;
} ftypes[] = {
    {"NONE", F_NONE},     {"PROTOCOL", F_PROTOCOL},   {"BOOLEAN", F_BOOL},          {"UINT8", F_UINT},
    {"UINT16", F_UINT},   {"UINT24", F_UINT},         {"UINT32", F_UINT},           {"UINT64", F_UINT64},
    {"INT32", F_INT},     {"DOUBLE", F_DOUBLE},       {"STRING", F_STRING},         {"BYTES", F_BYTES},
    {"FRAMENUM", F_FRAMENUM}, {"RELATIVE_TIME", F_TIME}, {"ABSOLUTE_TIME", F_TIME},
};

struct field {
    char *name;
    enum ftype type;
    int hf;  /* resolved by name at the first render: Lua registers fields after the scripts load */
    int ett; /* registered by bind() */
    int listed;         /* tshark -T fields (tshark_args.c): 0 unknown, 1 not named by an -e option, 2 named */
    unsigned want_call; /* the render call that set want */
    int want;
};

static struct field *fields;
static int nfields;
static expert_field **experts;
static int nexperts;

static void free_schema(void) {
    for (int i = 0; i < nfields; i++)
        free(fields[i].name);
    free(fields);
    free(experts);
    fields = NULL;
    experts = NULL;
    nfields = nexperts = 0;
}

/* goshim.bind(names, types, experts): the filter name and ftype of every
 * Go field id (protocols included) in order, and the ProtoExpert of every
 * Go expert id. Registers a subtree type per field inside Wireshark. */
int goshim_bind(lua_State *L) {
    int n, m, i;
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checktype(L, 2, LUA_TTABLE);
    luaL_checktype(L, 3, LUA_TTABLE);
    n = (int)lua_rawlen(L, 1);
    m = (int)lua_rawlen(L, 3);
    if ((int)lua_rawlen(L, 2) != n)
        return luaL_error(L, "goshim.bind: %d names but %d types", n, (int)lua_rawlen(L, 2));
    free_schema();
    fields = calloc((size_t)n + 1, sizeof *fields);
    experts = calloc((size_t)m + 1, sizeof *experts);
    if (!fields || !experts) {
        free_schema();
        return luaL_error(L, "goshim.bind: out of memory");
    }
    for (i = 0; i < n; i++) {
        const char *name, *type;
        size_t k;
        lua_rawgeti(L, 1, i + 1);
        lua_rawgeti(L, 2, i + 1);
        name = lua_tostring(L, -2);
        type = lua_tostring(L, -1);
        for (k = 0; type && k < sizeof ftypes / sizeof ftypes[0]; k++)
            if (strcmp(type, ftypes[k].name) == 0)
                break;
        if (!name || !type || k == sizeof ftypes / sizeof ftypes[0]) {
            nfields = i;
            free_schema();
            return luaL_error(L, "goshim.bind: field %d: bad name or type", i);
        }
        fields[i].name = strdup(name);
        fields[i].type = ftypes[k].type;
        fields[i].hf = -1;
        fields[i].ett = -1;
        lua_pop(L, 2);
        nfields = i + 1;
        if (!fields[i].name) {
            free_schema();
            return luaL_error(L, "goshim.bind: out of memory");
        }
    }
    for (i = 0; i < m; i++) {
        void **ud;
        lua_rawgeti(L, 3, i + 1);
        ud = luaL_checkudata(L, -1, "ProtoExpert");
        experts[i] = (expert_field *)*ud;
        lua_pop(L, 1);
    }
    nexperts = m;
    /* The ProtoExperts must outlive every render of this Lua state; a
     * reload makes a new state, whose script binds again. */
    lua_pushvalue(L, 3);
    luaL_ref(L, LUA_REGISTRYINDEX);

    if (proto_register_subtree_array && n > 0) {
        int **ptrs = malloc((size_t)n * sizeof *ptrs);
        if (!ptrs)
            return luaL_error(L, "goshim.bind: out of memory");
        for (i = 0; i < n; i++)
            ptrs[i] = &fields[i].ett;
        proto_register_subtree_array((int *const *)ptrs, n);
        free(ptrs);
    }
    return 0;
}

/* --- render() ----------------------------------------------------------- */

/* Flags of an item (goparser/tree). */
enum { GENERATED = 1, HIDDEN = 2, REPLACE = 4, TIME = 8, DATA_SOURCE = 16 };

static int read_float(struct reader *r, struct value *v) {
    uint64_t bits;
    if (!need(r, 8))
        return 0;
    bits = rd64(r->p);
    memcpy(&v->f, &bits, sizeof v->f);
    /* Out of range (or NaN), the conversion would be undefined. */
    v->i = v->f > -9.2e18 && v->f < 9.2e18 ? (int64_t)v->f : 0;
    r->p += 8;
    return 1;
}

/* Go's encoding/binary varints, at most 10 octets. */
static int read_uvarint_long(struct reader *r, uint64_t *out) {
    uint64_t x = 0;
    for (unsigned shift = 0; shift < 70; shift += 7) {
        uint8_t b;
        if (!need(r, 1))
            return 0;
        b = *r->p++;
        if (shift == 63 && b > 1)
            return 0; /* more than 64 bits */
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = x;
            return 1;
        }
    }
    return 0;
}

/* Most are one octet: field numbers under 64, offsets and lengths under 128. */
static inline int read_uvarint(struct reader *r, uint64_t *out) {
    if (r->p < r->end && *r->p < 0x80) {
        *out = *r->p++;
        return 1;
    }
    return read_uvarint_long(r, out);
}

static inline int read_varint(struct reader *r, int64_t *out) {
    uint64_t u;
    if (!read_uvarint(r, &u))
        return 0;
    *out = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
    return 1;
}

/* A uvarint length and that many octets, as a TAG_STRING value. */
static int read_chunk(struct reader *r, struct value *v) {
    uint64_t n;
    if (!read_uvarint(r, &n) || n > 0xffffffffu || !need(r, (size_t)n))
        return 0;
    v->tag = TAG_STRING;
    v->n = (uint32_t)n;
    v->s = (const char *)r->p;
    r->p += n;
    return 1;
}

/* The bits octet of an item. */
enum { ITEM_KIND = 0x07, ITEM_TEXT = 0x08, ITEM_CHILDREN = 0x10 };
enum { ITEM_NIL, ITEM_FALSE, ITEM_TRUE, ITEM_INT, ITEM_FLOAT, ITEM_STRING, ITEM_REF };

int goshim_read_item(struct reader *r, struct item *it) {
    uint8_t bits;
    uint64_t off, len, flags;
    struct value *v = &it->v;
    if (!need(r, 2) || r->p[0] != TAG_ITEM)
        return 0;
    bits = r->p[1];
    r->p += 2;
    if ((bits & ~(ITEM_KIND | ITEM_TEXT | ITEM_CHILDREN)) || (bits & ITEM_KIND) > ITEM_REF)
        return 0;
    if (!read_varint(r, &it->field) || !read_uvarint(r, &off) || !read_uvarint(r, &len) || !read_uvarint(r, &flags) ||
        flags > INT64_MAX)
        return 0;
    /* A negative offset or length comes as its two's complement: the
     * renderer refuses it as out of bounds. */
    it->off = (int64_t)off;
    it->len = (int64_t)len;
    it->flags = (int64_t)flags;
    v->tag = TAG_NIL;
    v->i = 0;
    v->f = 0;
    switch (bits & ITEM_KIND) {
    case ITEM_FALSE:
    case ITEM_TRUE:
        v->tag = (bits & ITEM_KIND) == ITEM_TRUE ? TAG_TRUE : TAG_FALSE;
        v->i = v->tag == TAG_TRUE;
        v->f = (double)v->i;
        break;
    case ITEM_INT:
        if (!read_varint(r, &v->i))
            return 0;
        v->tag = TAG_INT64;
        v->f = (double)v->i;
        break;
    case ITEM_FLOAT:
        v->tag = TAG_FLOAT64;
        if (!read_float(r, v))
            return 0;
        break;
    case ITEM_STRING:
        if (!read_chunk(r, v))
            return 0;
        break;
    case ITEM_REF: {
        uint64_t base, roff, rlen;
        if (!read_uvarint(r, &base) || !read_uvarint(r, &roff) || !read_uvarint(r, &rlen) || base > REF_SOURCE ||
            roff > INT64_MAX || rlen > UINT32_MAX)
            return 0;
        v->tag = TAG_REF;
        v->ref_base = (uint8_t)base;
        v->i = (int64_t)roff;
        v->n = (uint32_t)rlen;
        break;
    }
    }
    it->text.tag = TAG_NIL;
    if ((bits & ITEM_TEXT) && !read_chunk(r, &it->text))
        return 0;
    it->has_children = (bits & ITEM_CHILDREN) != 0;
    it->children = 0;
    if (it->has_children) {
        if (!need(r, 4))
            return 0;
        it->children = rd32(r->p);
        r->p += 4;
        if (!need(r, it->children)) /* each item takes octets */
            return 0;
    }
    return 1;
}

int goshim_read_value(struct reader *r, struct value *v) {
    if (!need(r, 1))
        return 0;
    v->tag = *r->p++;
    v->i = 0;
    v->f = 0;
    switch (v->tag) {
    case TAG_NIL:
        return 1;
    case TAG_FALSE:
    case TAG_TRUE:
        v->i = v->tag == TAG_TRUE;
        break;
    case TAG_UINT8:
        if (!need(r, 1))
            return 0;
        v->i = r->p[0];
        r->p += 1;
        break;
    case TAG_UINT16:
        if (!need(r, 2))
            return 0;
        v->i = r->p[0] | r->p[1] << 8;
        r->p += 2;
        break;
    case TAG_INT32:
        if (!need(r, 4))
            return 0;
        v->i = (int32_t)rd32(r->p);
        r->p += 4;
        break;
    case TAG_INT64:
        if (!need(r, 8))
            return 0;
        v->i = (int64_t)rd64(r->p);
        r->p += 8;
        break;
    case TAG_FLOAT64:
        return read_float(r, v);
    case TAG_STRING:
        if (!need(r, 4))
            return 0;
        v->n = rd32(r->p);
        r->p += 4;
        if (!need(r, v->n))
            return 0;
        v->s = (const char *)r->p;
        r->p += v->n;
        return 1;
    default:
        return 0;
    }
    v->f = (double)v->i;
    return 1;
}

static int read_int(struct reader *r, int64_t *out) {
    struct value v;
    if (!goshim_read_value(r, &v) || v.tag == TAG_NIL || v.tag == TAG_STRING || v.tag == TAG_FLOAT64)
        return 0;
    *out = v.i;
    return 1;
}

int goshim_read_int(struct reader *r, int64_t *out) { return read_int(r, out); }

struct render {
    packet_info *pinfo;
    char err[160];
    char *scratch; /* NUL-terminated copies of strings */
    size_t cap;
    int fields_only; /* the tree is tshark 4.0's for -T fields (tshark_args.c) */
    unsigned call;   /* counts the calls, for wanted()'s answers */
    tvbuff_t *source; /* the last data source added, for TAG_REF values */
};

/* Items added, and left out below the top for want of a reader, since the
 * plugin was loaded (goshim.stats). */
static uint64_t items_added, items_left_out;

static char *cstr(struct render *c, const struct value *v) {
    if (v->n + 1 > c->cap) {
        size_t n = c->cap ? c->cap : 256;
        char *p;
        while (n < (size_t)v->n + 1)
            n *= 2;
        p = realloc(c->scratch, n);
        if (!p)
            return NULL;
        c->scratch = p;
        c->cap = n;
    }
    memcpy(c->scratch, v->s, v->n);
    c->scratch[v->n] = 0;
    return c->scratch;
}

/* Whether an item of f below the top is added. In an invisible tree (a
 * display filter, -z io,stat, Wireshark's first pass) or none, only if
 * something reads the field, as Wireshark would drop the item otherwise.
 * In tshark 4.0's visible tree for -T fields (tshark_args.c), only if an -e
 * option names it or something else reads it, which
 * proto_field_is_referenced tells of an invisible tree: the tree is made
 * invisible for the question, once a field and call. */
static int wanted(struct render *c, proto_tree *tree, struct field *f) {
    if (!proto_field_is_referenced)
        return 1;
    if (!c->fields_only)
        return proto_field_is_referenced(tree, f->hf);
    if (f->want_call != c->call) {
        if (!f->listed)
            f->listed = goshim_field_listed(f->name) ? 2 : 1;
        f->want = f->listed == 2;
        if (!f->want) {
            proto_tree_set_visible(tree, 0);
            f->want = proto_field_is_referenced(tree, f->hf);
            proto_tree_set_visible(tree, 1);
        }
        f->want_call = c->call;
    }
    return f->want;
}

static int fail(struct render *c, const char *msg, const struct field *f) {
    snprintf(c->err, sizeof c->err, "%s%s%s", msg, f ? ": " : "", f ? f->name : "");
    return 0;
}

/* Whether field_info has the layout wireshark.h declares: checked on the
 * first item Wireshark really adds (not NULL, not its parent returned in
 * place of an item it does not keep), whose start and length must be
 * those given. On a version laid out otherwise the generated and hidden
 * flags are left unset rather than written over something else. */
static int finfo_layout = -1; /* unknown, 0 other, 1 as declared */

static void check_layout(proto_tree *parent, proto_item *item, int off, int len) {
    if (finfo_layout != -1 || !item || item == parent || !item->finfo)
        return;
    finfo_layout = item->finfo->start == off && item->finfo->length == len;
}

static void set_flag(proto_item *pi, unsigned flag) {
    if (finfo_layout == 1 && pi && pi->finfo)
        pi->finfo->flags |= flag;
}

void goshim_set_flags(proto_tree *parent, proto_item *item, int off, int len, unsigned flags) {
    if (!item || item == parent)
        return; /* not added, or dropped by Wireshark: no flag on the parent */
    check_layout(parent, item, off, len);
    set_flag(item, flags);
}

void goshim_error_item(packet_info *pinfo, proto_tree *tree, tvbuff_t *tvb, int proto, expert_field *ei,
                       const char *prefix, const char *msg, size_t n) {
    char text[256];
    snprintf(text, sizeof text, "%s%.*s", prefix, (int)(n < sizeof text ? n : sizeof text - 1), msg);
    expert_add_info_format(pinfo, proto_tree_add_item(tree, proto, tvb, 0, 0, ENC_NA), ei, "%s", text);
}

/* Whether v is a value that add_value can give field f: the check that
 * comes before any call into Wireshark, so that an item is refused the
 * same with a tree or without. */
static int value_fits(const struct field *f, const struct value *v, int flags) {
    int numeric = v->tag != TAG_STRING;
    switch (f->type) {
    case F_NONE:
    case F_PROTOCOL:
        return 1;
    case F_TIME:
        return numeric && v->tag != TAG_FLOAT64 && (flags & TIME);
    case F_STRING:
    case F_BYTES:
        return !numeric;
    default:
        return numeric;
    }
}

/* Adds one item with an explicit value, as TreeItem:add(field, range,
 * value); value_fits(f, v, flags) holds. */
static proto_item *add_value(struct render *c, proto_tree *tree, const struct field *f, tvbuff_t *tvb, int off,
                             int len, const struct value *v) {
    switch (f->type) {
    case F_NONE:
    case F_PROTOCOL:
        return proto_tree_add_item(tree, f->hf, tvb, off, len, ENC_NA);
    case F_BOOL:
        return proto_tree_add_boolean(tree, f->hf, tvb, off, len, v->i != 0);
    case F_UINT:
    case F_FRAMENUM:
        return proto_tree_add_uint(tree, f->hf, tvb, off, len, (uint32_t)v->i);
    case F_INT:
        return proto_tree_add_int(tree, f->hf, tvb, off, len, (int32_t)v->i);
    case F_UINT64:
        return proto_tree_add_uint64(tree, f->hf, tvb, off, len, (uint64_t)v->i);
    case F_DOUBLE:
        return proto_tree_add_double(tree, f->hf, tvb, off, len, v->f);
    case F_TIME: {
        /* Whole nanoseconds from Go (since the epoch for a date). */
        nstime_t t;
        int64_t ns = v->i % 1000000000;
        t.secs = (time_t)(v->i / 1000000000);
        if (ns < 0) {
            ns += 1000000000;
            t.secs--;
        }
        t.nsecs = (int)ns;
        return proto_tree_add_time(tree, f->hf, tvb, off, len, &t);
    }
    case F_STRING: {
        const char *s = cstr(c, v);
        if (!s) {
            fail(c, "out of memory", NULL);
            return NULL;
        }
        return proto_tree_add_string(tree, f->hf, tvb, off, len, s);
    }
    case F_BYTES:
        return proto_tree_add_bytes_with_length(tree, f->hf, tvb, off, len, (const uint8_t *)v->s, (int)v->n);
    }
    return NULL;
}

/* Makes a reference (TAG_REF) the string it points at: octets of tvb,
 * which the item's range is in, or of the last data source. */
static int resolve_ref(struct render *c, tvbuff_t *tvb, struct value *v) {
    tvbuff_t *in = v->ref_base == REF_SOURCE ? c->source : tvb;
    const uint8_t *p = (const uint8_t *)"";
    unsigned have;
    if (!in || !tvb_get_ptr || !tvb_captured_length)
        return 0;
    have = tvb_captured_length(in);
    if (v->i < 0 || (uint64_t)v->i > have || v->n > have - (uint64_t)v->i)
        return 0;
    if (v->n && !(p = tvb_get_ptr(in, (int)v->i, (int)v->n)))
        return 0;
    v->tag = TAG_STRING;
    v->s = (const char *)p;
    return 1;
}

/* Renders count items at the cursor under tree (whose item is pitem, where
 * expert infos go), with ranges into tvb. */
static int render_items(struct render *c, proto_tree *tree, proto_item *pitem, tvbuff_t *tvb, uint32_t count,
                        int depth);

/* render_items for the children of an item of field f. Under another
 * protocol's item (gogrpc's inside goh2's), pinfo's current protocol is
 * that protocol meanwhile: Wireshark files each expert info under it
 * (-z expert, the Expert Information dialog). */
static int render_children(struct render *c, struct field *f, proto_tree *tree, proto_item *pitem, tvbuff_t *tvb,
                           uint32_t count, int depth) {
    const char *saved, *name = NULL;
    protocol_t *p;
    int ok;
    if (f->type == F_PROTOCOL && find_protocol_by_id && proto_get_protocol_short_name &&
        (p = find_protocol_by_id(f->hf)))
        name = proto_get_protocol_short_name(p);
    if (!name)
        return render_items(c, tree, pitem, tvb, count, depth);
    saved = pinfo_swap_proto(c->pinfo, name);
    ok = render_items(c, tree, pitem, tvb, count, depth);
    pinfo_swap_proto(c->pinfo, saved);
    return ok;
}

static int render_items(struct render *c, proto_tree *tree, proto_item *pitem, tvbuff_t *tvb, uint32_t count,
                        int depth) {
    struct reader *r = &goshim_cursor;
    if (depth > MAX_DEPTH)
        return fail(c, "items nested too deeply", NULL);
    for (uint32_t i = 0; i < count; i++) {
        struct item it;
        int64_t fid, off, len, flags;
        struct value v, text;
        uint32_t children;
        struct field *f;
        proto_item *item;
        tvbuff_t *ctvb = tvb;

        if (!need(r, 1) || r->p[0] != TAG_ITEM)
            return fail(c, "no item at the cursor", NULL);
        if (!goshim_read_item(r, &it))
            return fail(c, "malformed item", NULL);
        fid = it.field;
        off = it.off;
        len = it.len;
        flags = it.flags;
        v = it.v;
        text = it.text;
        children = it.children;

        if (fid < 0) {
            /* An expert info on the enclosing item. */
            if (-fid - 1 >= nexperts || children)
                return fail(c, "unknown expert info", NULL);
            if (text.tag == TAG_STRING) {
                const char *s = cstr(c, &text);
                if (!s)
                    return fail(c, "out of memory", NULL);
                expert_add_info_format(c->pinfo, pitem, experts[-fid - 1], "%s", s);
            } else {
                expert_add_info(c->pinfo, pitem, experts[-fid - 1]);
            }
            continue;
        }
        if (fid >= nfields)
            return fail(c, "unknown field", NULL);
        f = &fields[fid];
        if (f->hf < 0 && (f->hf = proto_registrar_get_id_byname(f->name)) < 0)
            return fail(c, "field not registered", f);

        if (flags & DATA_SOURCE) {
            /* Bytes not contiguous in the frame (a reassembled or
             * decompressed message) become a tab of their own, named by
             * text; the children's ranges point into it. */
            uint8_t *data;
            const char *name;
            if (v.tag != TAG_STRING || text.tag != TAG_STRING || v.n > 0x7fffffff)
                return fail(c, "data source without bytes or name", f);
            data = malloc(v.n ? v.n : 1);
            if (!data)
                return fail(c, "out of memory", NULL);
            memcpy(data, v.s, v.n);
            ctvb = tvb_new_child_real_data(tvb, data, v.n, (int)v.n);
            tvb_set_free_cb(ctvb, free);
            if (!(name = cstr(c, &text)))
                return fail(c, "out of memory", NULL);
            add_new_data_source(c->pinfo, ctvb, name);
            c->source = ctvb;
            item = proto_tree_add_item(tree, f->hf, ctvb, 0, (int)v.n, ENC_NA);
        } else {
            if (off < 0 || len < 0 || off + len > (int64_t)tvb_captured_length(tvb))
                return fail(c, "range out of bounds for field", f);
            if (v.tag == TAG_NIL && f->type == F_FRAMENUM)
                return fail(c, "a frame number needs a value", f);
            if (v.tag == TAG_REF && !resolve_ref(c, tvb, &v))
                return fail(c, "string reference out of bounds", f);
            if (v.tag != TAG_NIL && !value_fits(f, &v, (int)flags))
                return fail(c, "value of the wrong kind for field", f);
            /* No tree (tshark -x, -z conv,tcp), or one that nothing
             * reads this field from (wanted): not added, as Wireshark
             * would drop the item, handing back the parent. Not at the
             * top (depth 0): Wireshark keeps every item added to the
             * root of a tree (io,phs counts them). */
            item = NULL;
            if (tree && depth > 0 && !wanted(c, tree, f)) {
                items_left_out++;
            } else if (tree) {
                items_added++;
                if (v.tag == TAG_NIL)
                    item = proto_tree_add_item(tree, f->hf, tvb, (int)off, (int)len, ENC_NA);
                else
                    item = add_value(c, tree, f, tvb, (int)off, (int)len, &v);
                if (c->err[0])
                    return 0;
            }
            if (item && item != tree) {
                if (text.tag == TAG_STRING) {
                    const char *s = cstr(c, &text);
                    if (!s)
                        return fail(c, "out of memory", NULL);
                    if (flags & REPLACE)
                        proto_item_set_text(item, "%s", s);
                    else
                        proto_item_append_text(item, "%s", s);
                }
                if (flags & (GENERATED | HIDDEN))
                    check_layout(tree, item, (int)off, (int)len);
                if (flags & GENERATED)
                    set_flag(item, FI_GENERATED);
                if (flags & HIDDEN)
                    set_flag(item, FI_HIDDEN);
            }
        }
        if (!item || item == tree) {
            /* Not added, or dropped by Wireshark (a field read only
             * indirectly, a data source's item in an invisible tree): no
             * text, flags or subtree type, which would land on the
             * parent. The children may hold referenced fields, expert
             * infos and data sources; they go to the parent, as they
             * would in Wireshark. */
            if (children > 0 && !render_children(c, f, tree, pitem, ctvb, children, depth + 1))
                return 0;
        } else if (children > 0 &&
                   !render_children(c, f, proto_item_add_subtree(item, f->ett), item, ctvb, children, depth + 1)) {
            return 0;
        }
    }
    return 1;
}

/* Whether tree is visible (printed). There is no getter; setting the flag
 * returns what it was, and no item is added before it is put back. */
int goshim_tree_visible(proto_tree *tree) {
    if (proto_tree_set_visible(tree, 1))
        return 1;
    proto_tree_set_visible(tree, 0);
    return 0;
}

/* goshim.stats(): the items render() has added, those it has left out
 * below the top because nothing would read them, and whether tshark's
 * command line says that it makes one pass (tshark_args.c); for tests and
 * for diagnosis, not used by the dissectors. */
int goshim_stats(lua_State *L) {
    lua_pushinteger(L, (lua_Integer)items_added);
    lua_pushinteger(L, (lua_Integer)items_left_out);
    lua_pushboolean(L, goshim_no_later_pass(0));
    return 3;
}

int goshim_render_items(packet_info *pinfo, proto_tree *tree, proto_item *pitem, tvbuff_t *tvb, uint32_t count,
                        const char **err) {
    static struct render c;
    c.pinfo = pinfo;
    c.err[0] = 0;
    if (++c.call == 0) /* 0 is a field's "never asked" */
        c.call = 1;
    c.fields_only = tree && proto_tree_set_visible && goshim_fields_only() && goshim_tree_visible(tree);
    c.source = NULL;
    if (nfields == 0) {
        *err = "bind() the schema first";
        return 0;
    }
    if (!render_items(&c, tree, pitem, tvb, count, 0)) {
        *err = c.err;
        return 0;
    }
    return 1;
}

/* goshim.render(tree, tvb, pinfo, count): adds the count items at the
 * cursor (result() put it there) to tree, a TreeItem, with ranges into
 * tvb. Raises an error on malformed items; the items before it stay. */
int goshim_render(lua_State *L) {
    struct lua_treeitem *ti;
    struct lua_tvb *tvb;
    struct lua_pinfo *pinfo;
    lua_Integer count;
    const char *err;

    if (!proto_tree_add_item || !proto_registrar_get_id_byname || !expert_add_info)
        return luaL_error(L, "goshim.render: works only inside Wireshark (libwireshark is not loaded)");
    ti = *(struct lua_treeitem **)luaL_checkudata(L, 1, "TreeItem");
    tvb = *(struct lua_tvb **)luaL_checkudata(L, 2, "Tvb");
    pinfo = *(struct lua_pinfo **)luaL_checkudata(L, 3, "Pinfo");
    count = luaL_checkinteger(L, 4);
    if (!ti || !tvb || !tvb->ws_tvb || !pinfo || count < 0 || count > 0x7fffffff)
        return luaL_error(L, "goshim.render: bad arguments");
    if (!goshim_render_items(pinfo->ws_pinfo, ti->tree, ti->item, tvb->ws_tvb, (uint32_t)count, &err))
        return luaL_error(L, "goshim.render: %s", err);
    return 0;
}
