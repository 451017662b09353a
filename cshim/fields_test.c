/* Tests of fields.c's reading of tshark 4.0's command line (make
 * test-lua). A wrong "yes" would leave printed fields out of tshark's
 * output, so every doubt must give "no". */
#include <stdio.h>
#include <string.h>

#include "shim.h"

static int failed;

/* want: the expected result; fields: the -e arguments expected, joined
 * by spaces, when it is 1. */
static void check(int want, const char *fields, int argc, char **argv) {
    const char *listed[64];
    int n = 0, got = goshim_fields_parse(argv, argc, listed, &n);
    char joined[512] = "";
    for (int i = 0; got && i < n; i++) {
        if (i)
            strcat(joined, " ");
        strcat(joined, listed[i]);
    }
    if (got != want || (want && strcmp(joined, fields))) {
        printf("FAIL:");
        for (int i = 0; i < argc; i++)
            printf(" %s", argv[i]);
        printf(": got %d [%s], want %d [%s]\n", got, joined, want, want ? fields : "");
        failed++;
    }
}

#define CHECK(want, fields, ...)                                              \
    do {                                                                      \
        char *argv[] = {"tshark", __VA_ARGS__};                               \
        check(want, fields, (int)(sizeof argv / sizeof argv[0]), argv);       \
    } while (0)

int main(void) {
    CHECK(1, "a b", "-r", "x.pcap", "-T", "fields", "-e", "a", "-e", "b");
    CHECK(1, "a b", "-nqTfields", "-ea", "-E", "occurrence=f", "-e", "b");
    CHECK(1, "a", "-X", "lua_script:-T", "-T", "fields", "-Y", "-e", "-e", "a");
    CHECK(1, "a", "--disable-protocol", "-e", "-T", "fields", "-e", "a", "--log-level=info", "--color");
    CHECK(1, "a", "-T", "pdml", "-T", "fields", "-e", "a");
    CHECK(1, "a", "-i", "lo", "-T", "fields", "-e", "a", "tcp", "port", "80", "-e", "b"); /* a capture filter */
    CHECK(0, "", "-T", "fields", "-T", "json", "-e", "a");
    CHECK(0, "", "-T", "fields");                        /* tshark refuses it */
    CHECK(0, "", "-V", "-e", "a");                       /* the text output */
    CHECK(0, "", "-T", "ek", "-e", "a");
    CHECK(0, "", "-T", "fields", "-e", "a", "--disable-prot", "x"); /* abbreviated */
    CHECK(0, "", "-T", "fields", "-e", "a", "--unknown");
    CHECK(0, "", "-T", "fields", "-e", "a", "--color=yes");
    CHECK(0, "", "-T", "fields", "-e", "a", "-k");       /* not an option of tshark */
    CHECK(0, "", "-T", "fields", "-e");                  /* no argument */
    CHECK(0, "", "-T", "fields", "-e", "a", "--temp-dir");
    CHECK(0, "", "x", "-T", "fields", "-e", "a");        /* after the first operand */
    CHECK(0, "", "--", "-T", "fields", "-e", "a");
    if (failed)
        return 1;
    printf("fields_test: passed\n");
    return 0;
}
