/* tshark_args: what tshark's command line asks of the shim, on 4.0 and 4.4.
 *
 * Two things that Wireshark's API does not tell a dissector:
 * - Whether tshark makes one pass over the frames (no -2): then no frame
 *   is dissected again, and Go keeps no result for later passes, a copy
 *   of every result (a verdict a frame for tcptw, the decoded frame for
 *   goh2 when nothing prints its tree).
 * - On 4.0, which fields -T fields prints. tshark 4.0 makes its tree
 *   visible for -T fields, so every item costs Wireshark its label and
 *   -T fields looks every item's name up, although only the -e fields are
 *   printed; and it does not prime the -e fields, so
 *   proto_field_is_referenced cannot tell them from the rest (4.4 makes
 *   the tree invisible and primes them). render.c then leaves out the
 *   items that neither an -e option nor a filter, tap or column wants, as
 *   it does in an invisible tree.
 * The shim reads /proc/self/cmdline when the plugin loads, before tshark
 * alters it, as that version does: the log options first, then the rest
 * as its option parser would. Anything it does not recognise (another
 * program or version, an unknown or abbreviated option,
 * GOTCPDUMP_IGNORE_ARGS set) leaves both as they are without it: every
 * result kept, the whole tree. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shim.h"
#include "wireshark.h"

/* The versions that know an option: 1 << minor, of 4. */
#define V40 (1u << 0)
#define V44 (1u << 4)

/* tshark's short options, as each version hands them to ws_getopt_long (a
 * letter before ':' takes an argument), and its long options with the
 * versions that know them (tests/tshark_args_test.go compares both with
 * the running tshark's; 4.0's -h also lists --read-file, --read-filter and
 * --display-filter, which it does not accept). */
static const char optstring40[] = "2a:b:B:c:Df:i:ILps:y:d:K:nN:t:u:M:C:e:E:F:gG:hH:j:J:lo:O:PqQr:R:S:T:U:vVw:W:xX:Y:z:";
static const char optstring44[] = "2a:b:B:c:Df:F:i:ILps:y:d:K:nN:R:t:u:Y:r:M:C:e:E:F:gG:hH:j:J:lo:O:PqQS:T:U:vVw:W:xX:z:";
static const struct longopt longopts[] = {
    {"help", 0, V40 | V44},
    {"version", 0, V40 | V44},
    {"autostop", 1, V40 | V44},
    {"ring-buffer", 1, V40 | V44},
    {"buffer-size", 1, V40 | V44},
    {"list-interfaces", 0, V40 | V44},
    {"interface", 1, V40 | V44},
    {"monitor-mode", 0, V40 | V44},
    {"list-data-link-types", 0, V40 | V44},
    {"no-promiscuous-mode", 0, V40 | V44},
    {"snapshot-length", 1, V40 | V44},
    {"linktype", 1, V40 | V44},
    {"list-time-stamp-types", 0, V40 | V44},
    {"time-stamp-type", 1, V40 | V44},
    {"compress-type", 1, V40 | V44},
    {"temp-dir", 1, V40 | V44},
    {"update-interval", 1, V44},
    {"disable-protocol", 1, V40 | V44},
    {"enable-heuristic", 1, V40 | V44},
    {"disable-heuristic", 1, V40 | V44},
    {"enable-protocol", 1, V40 | V44},
    {"only-protocols", 1, V44},
    {"disable-all-protocols", 0, V44},
    {"read-filter", 1, V44},
    {"display-filter", 1, V44},
    {"read-file", 1, V44},
    {"print", 0, V40 | V44},
    {"export-objects", 1, V40 | V44},
    {"export-tls-session-keys", 1, V40 | V44},
    {"color", 0, V40 | V44},
    {"no-duplicate-keys", 0, V40 | V44},
    {"elastic-mapping-filter", 1, V40 | V44},
    {"capture-comment", 1, V40 | V44},
    {"hexdump", 1, V40 | V44},
    {"selected-frame", 1, V40 | V44},
    {"print-timers", 0, V44},
    {"global-profile", 0, V44},
    {"compress", 1, V44},
    {NULL, 0, 0},
};

/* The log options, by their names after "--log-", which ws_log_parse_args
 * takes out of argv first. */
static const struct {
    const char *name;
    unsigned versions;
} logopts[] = {
    {"level", V40 | V44},
    {"fatal", V40 | V44},
    {"domain", V40 | V44},
    {"domains", V40 | V44},
    {"fatal-domain", V44},
    {"fatal-domains", V44},
    {"debug", V40 | V44},
    {"noisy", V40 | V44},
    {"file", V40 | V44},
};

static int decided;
static struct tshark_args args; /* points into cmdline */
static char *cmdline;           /* /proc/self/cmdline */

/* The arguments, NUL-separated; NULL if unreadable or over 1 MiB. */
static char *read_cmdline(size_t *len) {
    FILE *f = fopen("/proc/self/cmdline", "rb");
    size_t cap = 4096, n = 0;
    char *buf = NULL, *p;
    if (!f)
        return NULL;
    for (;;) {
        if (!(p = realloc(buf, cap + 1)))
            break;
        buf = p;
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap || cap >= 1 << 20)
            break;
        cap *= 2;
    }
    fclose(f);
    if (!p || n == 0 || n >= 1 << 20) {
        free(buf);
        return NULL;
    }
    buf[n] = 0; /* the last argument's NUL, if it lacked one */
    *len = n;
    return buf;
}

/* The tshark versions whose options the shim knows. */
static const struct version {
    int minor; /* of 4 */
    const char *optstring;
    int fields_tree_visible; /* -T fields dissects into a visible tree */
} versions[] = {
    {0, optstring40, 1},
    {4, optstring44, 0},
};

static const struct version *version(int minor) {
    for (size_t k = 0; k < sizeof versions / sizeof versions[0]; k++)
        if (versions[k].minor == minor)
            return &versions[k];
    return NULL;
}

int goshim_tshark_options(int minor, const char **optstring, const struct longopt **lo) {
    const struct version *v = version(minor);
    if (!v)
        return 0;
    *optstring = v->optstring;
    *lo = longopts;
    return 1;
}

static int known(unsigned versions, int minor) { return minor >= 0 && minor < 32 && ((versions >> minor) & 1); }

int goshim_tshark_longopt_in(const struct longopt *lo, int minor) { return known(lo->versions, minor); }

/* The length of "--log-NAME" at a if NAME is a log option of 4.minor, else
 * 0. */
static size_t log_option(int minor, const char *a) {
    if (strncmp(a, "--log-", 6))
        return 0;
    for (size_t k = 0; k < sizeof logopts / sizeof logopts[0]; k++) {
        size_t n = strlen(logopts[k].name);
        if (known(logopts[k].versions, minor) && !strncmp(a + 6, logopts[k].name, n) &&
            (a[6 + n] == 0 || a[6 + n] == '='))
            return 6 + n;
    }
    return 0;
}

/* Takes the log options out of argv as ws_log_parse_args does before
 * tshark's option parser runs: wherever they are, even as another option's
 * argument, with their value ("--log-level info" or "--log-level=info").
 * Returns the new argc, or -1 where tshark would exit (a value missing or
 * beginning with '-'). */
static int drop_log_options(int minor, char **argv, int argc) {
    int n = 1;
    for (int i = 1; i < argc; i++) {
        size_t k = log_option(minor, argv[i]);
        if (!k) {
            argv[n++] = argv[i];
            continue;
        }
        if (argv[i][k] == '=')
            continue;
        if (++i >= argc || !argv[i][0] || argv[i][0] == '-')
            return -1;
    }
    return n;
}

static int long_takes_arg(int minor, const char *name, size_t n) {
    for (const struct longopt *lo = longopts; lo->name; lo++)
        if (goshim_tshark_longopt_in(lo, minor) && strlen(lo->name) == n && !memcmp(lo->name, name, n))
            return lo->arg;
    return -1;
}

/* Parses argv as tshark 4.minor does ("+": options end at the first
 * operand) into *t, whose listed has room for argc; 0 if anything is not
 * understood, the version included. Takes the log options out of argv. */
int goshim_tshark_args(int minor, char **argv, int argc, struct tshark_args *t) {
    const struct version *v = version(minor);
    const char *out = NULL;
    int i;
    t->understood = t->fields = t->two_pass = t->lua_script = t->nlisted = 0;
    if (!v || (argc = drop_log_options(minor, argv, argc)) < 0)
        return 0;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-' || a[1] == 0)
            break; /* the capture filter */
        if (!strcmp(a, "--"))
            break;
        if (a[1] == '-') {
            const char *eq = strchr(a + 2, '=');
            int arg = long_takes_arg(minor, a + 2, eq ? (size_t)(eq - a - 2) : strlen(a + 2));
            if (arg < 0 || (!arg && eq))
                return 0; /* unknown, or abbreviated as getopt allows */
            if (arg && !eq && ++i >= argc)
                return 0;
            continue;
        }
        for (const char *p = a + 1; *p; p++) {
            const char *o = *p == ':' ? NULL : strchr(v->optstring, *p);
            const char *val;
            if (!o)
                return 0;
            if (*p == '2')
                t->two_pass = 1;
            if (o[1] != ':')
                continue;
            if (p[1])
                val = p + 1;
            else if (++i < argc)
                val = argv[i];
            else
                return 0;
            if (*p == 'T')
                out = val;
            else if (*p == 'e')
                t->listed[t->nlisted++] = val;
            else if (*p == 'X' && !strncmp(val, "lua_script", 10))
                t->lua_script = 1;
            break;
        }
    }
    /* A script may ask Wireshark for every field (all_field_infos() after
     * register_postdissector(p, true) or Listener.new(..., true)), which
     * makes the tree visible; nothing tells that apart. 4.4's tree for
     * -T fields is invisible, and it primes the -e fields itself. */
    t->fields = v->fields_tree_visible && out && !strcmp(out, "fields") && t->nlisted > 0 && !t->lua_script;
    t->understood = 1;
    return 1;
}

/* Whether this is tshark 4.0 or 4.4, with its arguments in args; sets
 * not_tshark for another program, on any version. */
static int not_tshark;
static int decide(void) {
    const struct pinfo_layout *l = goshim_layout();
    const char *base, *env = getenv("GOTCPDUMP_IGNORE_ARGS");
    char **argv;
    size_t len, k;
    int argc = 0, ok;
    if (env && *env && strcmp(env, "0"))
        return 0;
    if (!(cmdline = read_cmdline(&len)))
        return 0;
    base = strrchr(cmdline, '/');
    base = base ? base + 1 : cmdline;
    if (strcmp(base, "tshark")) {
        not_tshark = 1;
        return 0;
    }
    if (!l || l->major != 4)
        return 0;
    for (k = 0; k < len; k++)
        argc += cmdline[k] == 0;
    argv = calloc((size_t)argc + 1, sizeof *argv);
    args.listed = calloc((size_t)argc + 1, sizeof *args.listed);
    if (!argv || !args.listed) {
        free(argv);
        return 0;
    }
    argc = 0;
    for (k = 0; k < len; k += strlen(cmdline + k) + 1)
        argv[argc++] = cmdline + k;
    ok = goshim_tshark_args(l->minor, argv, argc, &args);
    free(argv);
    return ok;
}

/* When the plugin loads: tshark parses most of its options after loading
 * the plugins, and writes into some of them (-E's strtok), which changes
 * /proc/self/cmdline. */
void goshim_tshark_args_init(void) {
    if (decided)
        return;
    decided = 1;
    if (!decide()) {
        /* Nothing points into the command line then. */
        free(args.listed);
        memset(&args, 0, sizeof args);
        free(cmdline);
        cmdline = NULL;
    }
}

int goshim_no_later_pass(int first_pass_prints) {
    if (args.understood)
        return !args.two_pass;
    return first_pass_prints && !not_tshark;
}

int goshim_fields_only(void) { return args.understood && args.fields; }

int goshim_field_listed(const char *name) {
    for (int i = 0; i < args.nlisted; i++)
        if (!strcmp(args.listed[i], name))
            return 1;
    return 0;
}
