/*
 * stream_demo: the typed API. Create a busybox container, stream its stdout and stderr into
 * a callback from the moment it starts, wait for it (everything delivered), inspect it,
 * remove it.
 *
 *   stream_demo ROOT INIT_PATH
 *
 * ROOT holds a `busybox` image; INIT_PATH is the docker-init helper. Exits 0 on success.
 */
#include <stdio.h>
#include <string.h>

#include "docker_runtime.h"

static int fail(const char *what, docker_result r) {
    char msg[512];
    docker_error_message(msg, sizeof msg);
    fprintf(stderr, "%s failed: %s: %s\n", what, docker_result_name((int)r), msg);
    return 1;
}

struct collected {
    char out[4096];
    size_t out_len;
    size_t err_len;
    int calls;
};

/* Runs on a library thread; returning 0 asks for more. */
static int on_output(void *userdata, enum docker_stream stream, const uint8_t *bytes,
                     size_t len) {
    struct collected *c = userdata;
    c->calls++;
    if (stream == DOCKER_STREAM_STDOUT) {
        size_t room = sizeof c->out - 1 - c->out_len;
        size_t n = len < room ? len : room;
        memcpy(c->out + c->out_len, bytes, n);
        c->out_len += n;
        c->out[c->out_len] = '\0';
    } else {
        c->err_len += len;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s ROOT INIT_PATH\n", argv[0]);
        return 2;
    }
    docker_runtime_options opts;
    docker_runtime_options_init(&opts, sizeof opts);
    opts.init_path = argv[2];
    docker_runtime *rt = NULL;
    docker_result r = docker_runtime_new(argv[1], &opts, &rt);
    if (r != DOCKER_OK)
        return fail("docker_runtime_new", r);

    const char *cmd[] = {"sh", "-c", "echo hello from busybox; echo oops >&2; exit 7", NULL};
    docker_container_config cfg;
    docker_container_config_init(&cfg, sizeof cfg);
    cfg.image = "busybox";
    cfg.argv = cmd;
    cfg.network_mode = "none";
    docker_container *c = NULL;
    if ((r = docker_container_create(rt, &cfg, &c)) != DOCKER_OK)
        return fail("docker_container_create", r);
    char id[65];
    if ((r = docker_container_id(c, id, sizeof id)) != DOCKER_OK)
        return fail("docker_container_id", r);

    struct collected got = {0};
    docker_container_io io;
    docker_container_io_init(&io, sizeof io);
    io.output = on_output;
    io.userdata = &got;
    if ((r = docker_container_start(c, &io)) != DOCKER_OK)
        return fail("docker_container_start", r);
    int code = -1;
    if ((r = docker_container_wait(c, 30000, &code)) != DOCKER_OK)
        return fail("docker_container_wait", r);
    /* wait returned: every callback has returned, so `got` is complete. */
    printf("container %.12s exited %d\n", id, code);
    printf("stdout: %s", got.out);
    printf("stderr bytes: %zu\n", got.err_len);

    char *json = NULL;
    if ((r = docker_container_inspect_json(c, &json)) != DOCKER_OK)
        return fail("docker_container_inspect_json", r);
    printf("inspect has the id: %s\n", strstr(json, id) ? "yes" : "no");
    docker_string_free(json);

    if ((r = docker_container_remove(c, 0)) != DOCKER_OK)
        return fail("docker_container_remove", r);
    docker_container_free(c);
    docker_runtime_free(rt);
    int good = code == 7 && strcmp(got.out, "hello from busybox\n") == 0 && got.err_len == 5;
    printf("%s\n", good ? "ok" : "UNEXPECTED");
    return good ? 0 : 1;
}
