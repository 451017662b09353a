/* getopt_probe: a library that tests/tshark_args_test.go preloads into
 * tshark to read the options that tshark hands to ws_getopt_long, which
 * tshark_args.c must know exactly (a wrong arity would misread every
 * option after it). It prints each new set to stderr, as
 * "tshark_args_test --options" prints the shim's, and calls the real
 * function. Not part of the plugin. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* RTLD_NEXT */
#endif
#include <dlfcn.h>
#include <stdio.h>

/* wsutil/ws_getopt.h's struct ws_option. */
struct ws_option {
    const char *name;
    int has_arg;
    int *flag;
    int val;
};

typedef int (*getopt_long_fn)(int, char *const *, const char *, const struct ws_option *, int *);

int ws_getopt_long(int argc, char *const *argv, const char *optstring, const struct ws_option *longopts,
                   int *idx) {
    static const char *last_optstring;
    static const struct ws_option *last_longopts;
    getopt_long_fn real = (getopt_long_fn)(void (*)(void))dlsym(RTLD_NEXT, "ws_getopt_long");
    if (optstring != last_optstring || longopts != last_longopts) {
        last_optstring = optstring;
        last_longopts = longopts;
        fprintf(stderr, "getopt optstring %s\n", optstring);
        for (const struct ws_option *o = longopts; o && o->name; o++)
            fprintf(stderr, "getopt long %s %d\n", o->name, o->has_arg);
        fprintf(stderr, "getopt end\n");
    }
    if (!real) {
        fprintf(stderr, "getopt_probe: no ws_getopt_long after this library\n");
        return -1;
    }
    return real(argc, argv, optstring, longopts, idx);
}
