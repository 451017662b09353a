/* Tests of tshark_args.c's reading of tshark 4.0's and 4.4's command line (make
 * test-lua). A wrong "-T fields" would leave printed fields out of
 * tshark's output, a missed -2 results out of its second pass, so every
 * doubt must give "not understood". */
#include <stdio.h>
#include <string.h>

#include "shim.h"

static int failed;

/* want: "?" for not understood, else "1" or "2" (passes), then
 * " fields" and the -e arguments when it prints -T fields. */
static void check(int minor, const char *want, int argc, char **argv) {
    const char *listed[64];
    char *parsed[64]; /* the parser takes the log options out */
    struct tshark_args t = {.listed = listed};
    char got[512] = "?";
    memcpy(parsed, argv, (size_t)argc * sizeof *argv);
    if (goshim_tshark_args(minor, parsed, argc, &t)) {
        strcpy(got, t.two_pass ? "2" : "1");
        if (t.fields)
            strcat(got, " fields");
        for (int i = 0; t.fields && i < t.nlisted; i++) {
            strcat(got, " ");
            strcat(got, t.listed[i]);
        }
    }
    if (strcmp(got, want)) {
        printf("FAIL: 4.%d:", minor);
        for (int i = 0; i < argc; i++)
            printf(" %s", argv[i]);
        printf(": got \"%s\", want \"%s\"\n", got, want);
        failed++;
    }
}

#define CHECKV(minor, want, ...)                                              \
    do {                                                                      \
        char *argv[] = {"tshark", __VA_ARGS__};                               \
        check(minor, want, (int)(sizeof argv / sizeof argv[0]), argv);        \
    } while (0)
#define CHECK(want, ...) CHECKV(0, want, __VA_ARGS__)
#define CHECK44(want, ...) CHECKV(4, want, __VA_ARGS__)

/* --options 4.MINOR prints the options that the shim knows of that
 * version as getopt_probe.c prints tshark's: the short options, and
 * each long option with 1 if it takes an argument. */
static int print_options(const char *version) {
    const char *optstring;
    const struct longopt *lo;
    int minor;
    if (sscanf(version, "4.%d", &minor) != 1 || !goshim_tshark_options(minor, &optstring, &lo)) {
        fprintf(stderr, "tshark_args_test: no options for %s\n", version);
        return 1;
    }
    printf("getopt optstring %s\n", optstring);
    for (; lo->name; lo++)
        if (goshim_tshark_longopt_in(lo, minor))
            printf("getopt long %s %d\n", lo->name, lo->arg);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 3 && !strcmp(argv[1], "--options"))
        return print_options(argv[2]);
    CHECK("1 fields a b", "-r", "x.pcap", "-T", "fields", "-e", "a", "-e", "b");
    CHECK("1 fields a b", "-nqTfields", "-ea", "-E", "occurrence=f", "-e", "b");
    CHECK("1 fields a", "-o", "-T", "-T", "fields", "-Y", "-e", "-e", "a");
    CHECK("1 fields a", "--disable-protocol", "-e", "-T", "fields", "-e", "a", "--log-level=info", "--color");
    CHECK("1 fields a", "--selected-frame=3", "--log-domain", "main", "-T", "fields", "-e", "a");
    CHECK("1", "-X", "lua_script:x.lua", "-T", "fields", "-e", "a"); /* a script may want every field */
    CHECK("2", "-2", "-Xlua_script1:y", "-T", "fields", "-e", "a");
    CHECK("1 fields a", "-i", "lo", "-T", "fields", "-e", "a", "tcp", "port", "80", "-e", "b"); /* a capture filter */
    CHECK("2 fields a", "-2", "-T", "fields", "-e", "a");
    CHECK("2 fields a", "-T", "fields", "-qn2e", "a");
    CHECK("2", "-r", "x.pcap", "-R", "tcp", "-2V");
    CHECK("1", "-r", "x.pcap", "-Y", "-2", "-q", "-z", "io,stat,0"); /* -2 is -Y's argument */
    CHECK("1", "-r", "x.pcap");
    CHECK("1 fields a", "-X", "read_format:pcap", "-T", "fields", "-e", "a");
    CHECK("1", "-T", "fields");                         /* tshark refuses it */
    CHECK("1", "-V", "-e", "a");                        /* the text output */
    CHECK("1", "-T", "ek", "-e", "a");
    CHECK("1", "x", "-2", "-T", "fields", "-e", "a");   /* all after the first operand */
    CHECK("1", "--", "-2", "-T", "fields", "-e", "a");
    CHECK("?", "-T", "fields", "-e", "a", "--disable-prot", "x"); /* abbreviated */
    CHECK("?", "-T", "fields", "-e", "a", "--unknown");
    CHECK("?", "-T", "fields", "-e", "a", "--color=yes");
    CHECK("?", "-T", "fields", "-e", "a", "-k");        /* not an option of tshark */
    CHECK("?", "-T", "fields", "-e");                   /* no argument */
    CHECK("?", "-T", "fields", "-e", "a", "--temp-dir");
    CHECK("?", "--read-file", "x.pcap", "-2");          /* listed by -h, unknown to 4.0 */
    CHECK("1", "--compress-type", "gzip", "-w", "x.gz", "--log-domains=main");
    CHECK("?", "--log-fatal-domain=main", "-r", "x.pcap"); /* 4.4's */
    /* tshark takes the log options out first, wherever they are. */
    CHECK("2", "-S", "--log-level=critical", "-S", "-2", "-V");
    CHECK("2", "-o", "--log-domain", "main", "x:y", "-2");
    CHECK("1", "-Y", "--log-noisy", "main", "-2");      /* -2 is -Y's argument */
    CHECK("1", "-r", "x", "tcp", "--log-debug=main", "-2");
    CHECK("?", "--log-level", "-2");                    /* tshark exits */
    CHECK("?", "-r", "x", "--log-file");
    CHECK("?", "-r", "x", "--log-levels=info");

    /* 4.4 prints -T fields from an invisible tree: only the passes count. */
    CHECK44("1", "-r", "x.pcap", "-T", "fields", "-e", "a", "-e", "b");
    CHECK44("2", "--read-file", "x.pcap", "-2", "--read-filter=tcp", "-T", "fields", "-e", "a");
    CHECK44("2", "-r", "x.pcap", "-R", "tcp", "-2V");
    CHECK44("1", "-r", "x.pcap", "-Y", "-2", "-q", "-z", "io,stat,0");
    CHECK44("1", "--display-filter", "-2", "--print-timers", "--global-profile", "--update-interval", "100");
    CHECK44("1", "--only-protocols", "-2", "--disable-all-protocols", "--compress", "gzip", "-w", "x.gz");
    CHECK44("?", "--log-fatal-domain=main", "--log-fatal-domains", "-2", "--log-level", "info", "-r", "x");
    CHECK44("2", "--log-fatal-domain=main", "-S", "--log-fatal-domains", "main", "-S", "-2", "--log-level", "info", "-r", "x");
    CHECK44("1", "-nqTfields", "-ea", "-E", "occurrence=f", "-e", "b");
    CHECK44("1", "x", "-2");                            /* all after the first operand */
    CHECK44("?", "-r", "x.pcap", "--print-timer");       /* abbreviated */
    CHECK44("?", "-r", "x.pcap", "--global-profile=x");
    CHECK44("?", "-r", "x.pcap", "--compress");
    CHECK44("?", "-r", "x.pcap", "-k");
    CHECKV(2, "?", "-r", "x.pcap");                     /* a version whose options it does not know */
    CHECKV(6, "?", "-r", "x.pcap");
    if (failed)
        return 1;
    printf("tshark_args_test: passed\n");
    return 0;
}
