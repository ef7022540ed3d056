/*
 * runtime_demo: create a runtime on a root directory, restore it, run `info` through the
 * dispatch table, and allocate and release addresses and ports.
 *
 *   runtime_demo ROOT
 *
 * Exits 0 on success; prints what it did.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "docker_runtime.h"

static int fail(const char *what, docker_result r) {
    char msg[512];
    docker_error_message(msg, sizeof msg);
    fprintf(stderr, "%s failed: %s: %s (errno %d)\n", what, docker_result_name((int)r), msg,
            docker_error_errno());
    return 1;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s ROOT\n", argv[0]);
        return 2;
    }
    printf("library %s, header %s\n", docker_runtime_version(), DOCKER_RUNTIME_VERSION);
    if (strcmp(docker_runtime_version(), DOCKER_RUNTIME_VERSION) != 0) {
        fprintf(stderr, "library and header versions differ\n");
        return 1;
    }

    docker_runtime_options opts;
    docker_runtime_options_init(&opts, sizeof opts);
    /* A bridge of its own (never created here: only the pools are used), so an existing
     * lxcbr0 on the machine does not decide the subnet. */
    opts.bridge_name = "drcdemo0";
    opts.bridge_subnet = "10.77.0.1/24";
    opts.port_first = 50100;
    opts.port_last = 50199;

    docker_runtime *rt = NULL;
    docker_result r = docker_runtime_new(argv[1], &opts, &rt);
    if (r != DOCKER_OK)
        return fail("docker_runtime_new", r);

    size_t loaded = 0;
    r = docker_runtime_restore(rt, &loaded);
    if (r != DOCKER_OK)
        return fail("docker_runtime_restore", r);
    printf("restored %zu containers\n", loaded);

    fflush(stdout);
    const char *info_argv[] = {"info"};
    int status = -1;
    r = docker_runtime_call(rt, 1, info_argv, -1, STDOUT_FILENO, &status);
    if (r != DOCKER_OK)
        return fail("docker_runtime_call(info)", r);
    printf("info exit status %d\n", status);

    /* The runtime's persistent pool (survives a restart of the runtime). */
    char ip[16];
    r = docker_runtime_ip_acquire(rt, ip, sizeof ip);
    if (r != DOCKER_OK)
        return fail("docker_runtime_ip_acquire", r);
    uint16_t port = 0;
    r = docker_runtime_port_acquire(rt, &port);
    if (r != DOCKER_OK)
        return fail("docker_runtime_port_acquire", r);
    printf("runtime pool gave %s and port %u\n", ip, (unsigned)port);
    if ((r = docker_runtime_ip_release(rt, ip)) != DOCKER_OK)
        return fail("docker_runtime_ip_release", r);
    if ((r = docker_runtime_port_release(rt, port)) != DOCKER_OK)
        return fail("docker_runtime_port_release", r);

    /* A stand-alone allocator over a /8: created in O(1). */
    docker_ip_allocator *ips = NULL;
    r = docker_ip_allocator_new("10.0.0.1/8", &ips);
    if (r != DOCKER_OK)
        return fail("docker_ip_allocator_new", r);
    char gw[16];
    docker_ip_allocator_gateway(ips, gw, sizeof gw);
    for (int i = 0; i < 3; i++) {
        r = docker_ip_allocator_acquire(ips, ip, sizeof ip);
        if (r != DOCKER_OK)
            return fail("docker_ip_allocator_acquire", r);
        printf("10.0.0.1/8 (gateway %s) gave %s\n", gw, ip);
    }
    if ((r = docker_ip_allocator_release(ips, ip)) != DOCKER_OK)
        return fail("docker_ip_allocator_release", r);
    docker_ip_allocator_free(ips);

    docker_port_allocator *ports = NULL;
    if ((r = docker_port_allocator_new(0, 0, &ports)) != DOCKER_OK)
        return fail("docker_port_allocator_new", r);
    if ((r = docker_port_allocator_acquire(ports, &port)) != DOCKER_OK)
        return fail("docker_port_allocator_acquire", r);
    printf("default port range gave %u\n", (unsigned)port);
    if ((r = docker_port_allocator_acquire_specific(ports, 60000)) != DOCKER_OK)
        return fail("docker_port_allocator_acquire_specific", r);
    if ((r = docker_port_allocator_release(ports, 60000)) != DOCKER_OK)
        return fail("docker_port_allocator_release", r);
    docker_port_allocator_free(ports);

    docker_runtime_free(rt);
    printf("ok\n");
    return 0;
}
