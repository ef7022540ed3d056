/*
 * growth: the option structs' growth rule, seen from callers built on other headers.
 *
 *   growth ROOT
 *
 * (a) An older caller: its docker_runtime_options has only the first version's fields. _init
 *     and docker_runtime_new stay inside its struct (canary bytes after it are untouched; on
 *     the heap, in a block of exactly its size, valgrind sees any access past it), and the
 *     fields it has are used.
 * (b) A newer caller: the library's struct plus fields this library does not know. _init
 *     zeroes them; zeros are accepted, anything else is refused with a clear error (for the
 *     runtime, call and serve options).
 * (c) Sizes below the first version, cutting a field, or absurd are refused; nothing written.
 * Prints one line per check; exits 0 when all went as expected.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "docker_runtime.h"

/* docker_runtime_options as its first version declared it. */
struct old_runtime_options {
    size_t size;
    const char *bridge_name;
    const char *bridge_subnet;
    const char *iptables_chain;
    const char *init_path;
    uint16_t port_first;
    uint16_t port_last;
    int log_level;
    docker_log_callback log_callback;
    void *log_userdata;
};

/* A later header's structs: today's fields, then some this library does not have. */
struct new_runtime_options {
    docker_runtime_options known;
    uint64_t future_flags;
    const char *future_name;
};
struct new_call_options {
    docker_call_options known;
    int64_t future;
};
struct new_serve_options {
    docker_serve_options known;
    int64_t future;
};

static int failures;

static void check(const char *what, int ok) {
    printf("%s: %s\n", ok ? "ok" : "FAILED", what);
    if (!ok)
        failures++;
}

/* The result is `want`, and the message holds `part` (when not NULL). */
static void expect(const char *what, docker_result r, docker_result want, const char *part) {
    char msg[512];
    docker_error_message(msg, sizeof msg);
    int ok = r == want && (part == NULL || strstr(msg, part) != NULL);
    printf("%s: %s -> %s: %s\n", ok ? "ok" : "FAILED", what, docker_result_name((int)r), msg);
    if (!ok)
        failures++;
}

static int all_bytes(const unsigned char *p, size_t n, unsigned char b) {
    for (size_t i = 0; i < n; i++)
        if (p[i] != b)
            return 0;
    return 1;
}

static void sub(char *out, size_t len, const char *root, const char *name) {
    snprintf(out, len, "%s/%s", root, name);
}

static void old_caller(const char *root) {
    char path[512];
    /* On the stack, with canary bytes right after it. */
    struct {
        struct old_runtime_options o;
        unsigned char canary[64];
    } s;
    memset(&s, 0xAB, sizeof s);
    docker_runtime_options *o = (docker_runtime_options *)(void *)&s.o;
    expect("old caller: init", docker_runtime_options_init(o, sizeof s.o), DOCKER_OK, NULL);
    check("old caller: init sets size to the caller's",
          s.o.size == sizeof s.o && s.o.size < sizeof(docker_runtime_options));
    check("old caller: init writes the defaults",
          s.o.bridge_name == NULL && s.o.init_path == NULL && s.o.port_first == 0 &&
              s.o.log_level == DOCKER_LOG_DEFAULT && s.o.log_callback == NULL);
    check("old caller: init leaves the bytes after the struct alone",
          all_bytes(s.canary, sizeof s.canary, 0xAB));
    s.o.bridge_name = "drgrow0";
    s.o.bridge_subnet = "10.79.0.1/24";
    s.o.port_first = 50300;
    s.o.port_last = 50309;
    docker_runtime *rt = NULL;
    sub(path, sizeof path, root, "old");
    expect("old caller: docker_runtime_new", docker_runtime_new(path, o, &rt), DOCKER_OK, NULL);
    check("old caller: new leaves the bytes after the struct alone",
          all_bytes(s.canary, sizeof s.canary, 0xAB));
    char ip[16] = "";
    uint16_t port = 0;
    if (rt != NULL) {
        docker_runtime_ip_acquire(rt, ip, sizeof ip);
        docker_runtime_port_acquire(rt, &port);
    }
    printf("old caller: the runtime gave %s and port %u\n", ip, (unsigned)port);
    check("old caller: its fields were used", strcmp(ip, "10.79.0.2") == 0 && port == 50300);
    docker_runtime_free(rt);

    /* On the heap in a block of exactly its size: under valgrind, any read or write past it
     * is an error. */
    struct old_runtime_options *h = malloc(sizeof *h);
    if (h == NULL) {
        check("malloc", 0);
        return;
    }
    o = (docker_runtime_options *)(void *)h;
    expect("old caller on the heap: init", docker_runtime_options_init(o, sizeof *h), DOCKER_OK,
           NULL);
    h->bridge_name = "drgrow1";
    h->bridge_subnet = "10.79.1.1/24";
    rt = NULL;
    sub(path, sizeof path, root, "old-heap");
    expect("old caller on the heap: docker_runtime_new", docker_runtime_new(path, o, &rt),
           DOCKER_OK, NULL);
    docker_runtime_free(rt);
    free(h);
}

static void newer_caller(const char *root) {
    char path[512];
    struct new_runtime_options n;
    memset(&n, 0xCD, sizeof n);
    expect("newer caller: init", docker_runtime_options_init(&n.known, sizeof n), DOCKER_OK,
           NULL);
    check("newer caller: init sets size to the caller's", n.known.size == sizeof n);
    check("newer caller: init writes the defaults",
          n.known.bridge_name == NULL && n.known.max_layer_bytes == 0 &&
              n.known.disable_ip_forward == 0);
    check("newer caller: init zeroes the fields it does not know",
          n.future_flags == 0 && n.future_name == NULL);
    n.known.bridge_name = "drgrow2";
    n.known.bridge_subnet = "10.79.2.1/24";
    n.known.disable_ip_forward = 1;
    docker_runtime *rt = NULL;
    sub(path, sizeof path, root, "new");
    expect("newer caller, unknown fields zero: docker_runtime_new",
           docker_runtime_new(path, &n.known, &rt), DOCKER_OK, NULL);
    docker_runtime_free(rt);
    rt = NULL;
    n.future_flags = 1;
    expect("newer caller, an unknown field set: docker_runtime_new",
           docker_runtime_new(path, &n.known, &rt), DOCKER_ERR_INVALID_ARGUMENT,
           "the caller sets an option this library does not have");
    check("newer caller refused: no runtime", rt == NULL);

    /* docker_call_options the same way. */
    sub(path, sizeof path, root, "call");
    if (docker_runtime_new(path, NULL, &rt) != DOCKER_OK) {
        check("a runtime for the call options", 0);
        return;
    }
    struct new_call_options c;
    memset(&c, 0xCD, sizeof c);
    expect("newer call options: init", docker_call_options_init(&c.known, sizeof c), DOCKER_OK,
           NULL);
    check("newer call options: defaults and zeros",
          c.known.size == sizeof c && c.known.stdin_fd == -1 && c.known.stdout_fd == 1 &&
              c.future == 0);
    FILE *devnull = fopen("/dev/null", "w");
    c.known.stdout_fd = c.known.stderr_fd = devnull ? fileno(devnull) : -1;
    const char *argv[] = {"version"};
    int status = -1;
    expect("newer call options, unknown field zero: docker_runtime_call_with",
           docker_runtime_call_with(rt, 1, argv, &c.known, &status), DOCKER_OK, NULL);
    check("  exit status 0", status == 0);
    c.future = -1;
    expect("newer call options, an unknown field set: docker_runtime_call_with",
           docker_runtime_call_with(rt, 1, argv, &c.known, &status),
           DOCKER_ERR_INVALID_ARGUMENT, "docker_call_options");
    if (devnull)
        fclose(devnull);

    /* docker_serve_options: refused before anything is served. */
    struct new_serve_options s;
    memset(&s, 0xCD, sizeof s);
    expect("newer serve options: init", docker_serve_options_init(&s.known, sizeof s), DOCKER_OK,
           NULL);
    check("newer serve options: defaults and zeros",
          s.known.size == sizeof s && s.known.stop_fd == -1 && s.known.restore == 1 &&
              s.future == 0);
    s.future = 1;
    expect("newer serve options, an unknown field set: docker_runtime_serve",
           docker_runtime_serve(rt, &s.known), DOCKER_ERR_INVALID_ARGUMENT,
           "docker_serve_options");
    docker_runtime_free(rt);
}

static void bad_sizes(const char *root) {
    char path[512];
    struct {
        docker_runtime_options o;
        unsigned char canary[8];
    } s;
    const size_t bad[] = {0, sizeof(size_t), sizeof(struct old_runtime_options) - 8,
                          sizeof(struct old_runtime_options) + 1, (size_t)1 << 20};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char what[96];
        memset(&s, 0xAB, sizeof s);
        snprintf(what, sizeof what, "init with size %zu", bad[i]);
        expect(what, docker_runtime_options_init(&s.o, bad[i]), DOCKER_ERR_INVALID_ARGUMENT,
               "sizeof(struct docker_runtime_options)");
        check("  nothing written", all_bytes((unsigned char *)&s, sizeof s, 0xAB));
    }
    expect("init on NULL", docker_runtime_options_init(NULL, sizeof s.o),
           DOCKER_ERR_NULL_ARGUMENT, "opts");
    docker_call_options c;
    expect("call options init with size 8", docker_call_options_init(&c, 8),
           DOCKER_ERR_INVALID_ARGUMENT, "docker_call_options_init");
    docker_serve_options so;
    expect("serve options init with size 8", docker_serve_options_init(&so, 8),
           DOCKER_ERR_INVALID_ARGUMENT, "docker_serve_options_init");

    docker_runtime_options_init(&s.o, sizeof s.o);
    s.o.size = 8;
    docker_runtime *rt = NULL;
    sub(path, sizeof path, root, "bad");
    expect("docker_runtime_new with opts->size 8", docker_runtime_new(path, &s.o, &rt),
           DOCKER_ERR_INVALID_ARGUMENT, "docker_runtime_options_init");
    check("  no runtime", rt == NULL);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s ROOT\n", argv[0]);
        return 2;
    }
    old_caller(argv[1]);
    newer_caller(argv[1]);
    bad_sizes(argv[1]);
    printf(failures ? "%d FAILED\n" : "all as expected\n", failures);
    return failures ? 1 : 0;
}
