/* Shared between the parts of goshim: the reader of libgoparser's result
 * format (goparser/result) and the cursor that result() leaves on a
 * result's tree items. */
#ifndef GOSHIM_SHIM_H
#define GOSHIM_SHIM_H

#include <stddef.h>
#include <stdint.h>

#include <lua.h>

#define MAX_DEPTH 80 /* deeper than the encoder's limit of 64 */

/* Value tags of the result format. */
enum {
    TAG_NIL = 0,
    TAG_FALSE = 1,
    TAG_TRUE = 2,
    TAG_INT32 = 3,
    TAG_INT64 = 4,
    TAG_FLOAT64 = 5,
    TAG_STRING = 6,
    TAG_ARRAY = 7,
    TAG_MAP = 8,
    TAG_UINT8 = 9,
    TAG_UINT16 = 10,
    TAG_ITEM = 11,
    /* Not on the wire as a value: an item's string by reference
     * (result.ItemRef), base in ref_base, offset in i, length in n. */
    TAG_REF = 0x80,
};

/* The bases of a reference (result.RefBase). */
enum { REF_RANGE, REF_SOURCE };

struct reader {
    const uint8_t *p, *end;
};

static inline uint32_t rd32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t rd64(const uint8_t *p) { return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32; }

static inline int need(const struct reader *r, size_t n) { return (size_t)(r->end - r->p) >= n; }

/* Where item() and render() read next in the result of run(). */
extern struct reader goshim_cursor;

/* The result buffer, and one libgoparser call that leaves its result
 * there (goshim.c). */
extern uint8_t *goshim_buf;
int goshim_call(int op, int64_t *args, int nargs, const char *key, size_t keylen, const void *data, size_t datalen,
                size_t *outlen);

/* One scalar value of the result format: tag, with i for integers and
 * booleans (and floats in int64's range), f for numbers, s and n for
 * strings. */
struct value {
    uint8_t tag;
    uint8_t ref_base;
    int64_t i;
    double f;
    const char *s;
    uint32_t n;
};

/* Reads one scalar value (render.c); 0 at a container, an unknown tag or
 * the end of the input. */
int goshim_read_value(struct reader *r, struct value *v);

/* A tree item (goparser/result/item.go): its value is TAG_NIL, TAG_FALSE,
 * TAG_TRUE, TAG_INT64, TAG_FLOAT64, TAG_STRING or TAG_REF, its text TAG_NIL or
 * TAG_STRING; children is how many items follow as its children. */
struct item {
    int64_t field, off, len, flags;
    struct value v, text;
    int has_children;
    uint32_t children;
};

/* Reads an item up to its children (render.c); 0 when there is none at
 * the cursor or it is malformed. */
int goshim_read_item(struct reader *r, struct item *it);

/* Reads an integer value (render.c); 0 when there is none. */
int goshim_read_int(struct reader *r, int64_t *out);

/* Steps over one value, containers included, at nesting depth depth
 * (goshim.c); 0 on malformed input. */
int goshim_skip_value(struct reader *r, int depth);

/* Pushes one value, containers as tables, at nesting depth depth
 * (goshim.c); 0 on malformed input. */
int goshim_push_value(lua_State *L, struct reader *r, int depth);

/* The Lua functions of render.c and postdissector.c. */
int goshim_bind(lua_State *L);
int goshim_render(lua_State *L);
int goshim_stats(lua_State *L);

/* tshark_args.c: what tshark 4.0's or 4.4's command line asks for.
 * goshim_no_later_pass: whether no frame will be dissected again: tshark
 * 4.0 or 4.4 without -2; elsewhere, a first pass that printed its tree
 * (first_pass_prints), unless this is not tshark (Wireshark makes a
 * visible first pass when a script or MATE asks for every field).
 * goshim_fields_only: whether tshark 4.0 prints -T fields, whose visible
 * tree needs only the fields that its -e options name (goshim_field_listed)
 * or that something else reads. goshim_tshark_args_init reads the command
 * line when the plugin loads, before tshark parses (and alters) it. */
struct tshark_args {
    int understood, fields, two_pass, lua_script;
    const char **listed; /* the -e arguments */
    int nlisted;
};
int goshim_tshark_args(int minor, char **argv, int argc, struct tshark_args *t);
/* A long option of tshark's, whether it takes an argument, and the
 * versions that know it (goshim_tshark_longopt_in). */
struct longopt {
    const char *name;
    int arg;
    unsigned versions;
};
/* The options that the shim knows of tshark 4.minor, the long ones of
 * every version: 0 for a version that it does not know. */
int goshim_tshark_options(int minor, const char **optstring, const struct longopt **longopts);
int goshim_tshark_longopt_in(const struct longopt *lo, int minor);
void goshim_tshark_args_init(void);
int goshim_no_later_pass(int first_pass_prints);
int goshim_fields_only(void);
int goshim_field_listed(const char *name);
int goshim_postdissector(lua_State *L);
/* Hands the frames the postdissector deferred to Go before a call that
 * could read or change what they change; forgets them on a reset. */
void goshim_deferred_flush(int op, const int64_t *args, int nargs);
void goshim_deferred_reset(void);

/* Keeps the value at index idx, and calls fn when the Lua state L closes
 * (goshim.c): what a C handle bound to this state's protocol needs
 * across "Reload Lua Plugins", which makes a new state. */
void goshim_keep_until_close(lua_State *L, int idx, lua_CFunction fn);

/* Adds stream.c's functions to the module table on top of the stack. */
int goshim_open_stream(lua_State *L);

/* Forgets which frame stream() saw last, with Go's state (reset()). */
void goshim_stream_reset(void);

#endif
