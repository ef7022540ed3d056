/*
 * serve_demo: host the docker daemon's socket with one call, talk to it, and stop it.
 *
 *   serve_demo ROOT
 *
 * A thread runs docker_runtime_serve() on a runtime rooted at ROOT, listening on a unix socket
 * in a fresh temporary directory. The main thread waits for the ready byte, then speaks the
 * rcli protocol as v0.1.0's client did (one JSON line, half-close, read to the end) for
 * `version` and `info`, and stops the server from a signal handler: the handler write(2)s one
 * byte to the stop pipe, which is async-signal-safe. Exits 0 when everything went as expected.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "docker_runtime.h"

static int stop_pipe[2] = {-1, -1};

/* SIGUSR1 stops the server: only write(2), which a signal handler may call. */
static void on_sigusr1(int sig) {
    char b = (char)sig;
    ssize_t n = write(stop_pipe[1], &b, 1);
    (void)n;
}

struct server {
    docker_runtime *rt;
    docker_serve_options opts;
    docker_result result;
    char message[512];
};

static void *serve_thread(void *arg) {
    struct server *s = arg;
    s->result = docker_runtime_serve(s->rt, &s->opts);
    /* The message of a failed call is per thread: read it here. */
    docker_error_message(s->message, sizeof s->message);
    /* Closing the ready pipe's write end tells a main thread still waiting that we are done. */
    close(s->opts.ready_fd);
    return NULL;
}

/* perror(what); returns 1, for `return die("...")`. */
static int die(const char *what) {
    perror(what);
    return 1;
}

/* Send one plain (v0.1.0) request and print the whole answer. Returns 0 on success. */
static int request(const char *sock_path, const char *line, char *answer, size_t len) {
    answer[0] = '\0';
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0)
        return die("socket");
    struct sockaddr_un a;
    memset(&a, 0, sizeof a);
    a.sun_family = AF_UNIX;
    strncpy(a.sun_path, sock_path, sizeof a.sun_path - 1);
    size_t n = strlen(line), got = 0;
    int failed = connect(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
                 write(fd, line, n) != (ssize_t)n || shutdown(fd, SHUT_WR) != 0;
    ssize_t r;
    while (!failed && got + 1 < len && (r = read(fd, answer + got, len - 1 - got)) > 0)
        got += (size_t)r;
    answer[got] = '\0';
    if (failed)
        perror("sending the request");
    close(fd);
    printf("%s-> %s", line, answer);
    return failed;
}

static int fail(const char *what, docker_result r, const char *msg) {
    fprintf(stderr, "%s failed: %s: %s\n", what, docker_result_name((int)r), msg);
    return 1;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s ROOT\n", argv[0]);
        return 2;
    }
    char dir[] = "/tmp/serve-demo-XXXXXX";
    if (mkdtemp(dir) == NULL)
        return die("mkdtemp");
    char sock_path[64], address[80];
    snprintf(sock_path, sizeof sock_path, "%s/d.sock", dir);
    snprintf(address, sizeof address, "unix://%s", sock_path);

    docker_runtime_options ropts;
    docker_runtime_options_init(&ropts, sizeof ropts);
    /* Its own bridge name, subnet and chain (nothing here sets up a network). */
    ropts.bridge_name = "drcserve0";
    ropts.bridge_subnet = "10.78.0.1/24";
    ropts.iptables_chain = "DRCSERVE";
    ropts.disable_ip_forward = 1;
    static struct server s;
    char msg[512];
    docker_result r = docker_runtime_new(argv[1], &ropts, &s.rt);
    if (r != DOCKER_OK) {
        docker_error_message(msg, sizeof msg);
        return fail("docker_runtime_new", r, msg);
    }

    /* A bad address is refused before anything is served. */
    docker_serve_options bad;
    docker_serve_options_init(&bad, sizeof bad);
    const char *bad_addresses[] = {"ftp://nowhere"};
    bad.addresses = bad_addresses;
    bad.addresses_len = 1;
    r = docker_runtime_serve(s.rt, &bad);
    docker_error_message(msg, sizeof msg);
    printf("serve on ftp://nowhere -> %s: %s\n", docker_result_name((int)r), msg);
    if (r != DOCKER_ERR_INVALID_ARGUMENT) {
        fprintf(stderr, "expected DOCKER_ERR_INVALID_ARGUMENT\n");
        return 1;
    }

    int ready[2];
    if (pipe(stop_pipe) != 0 || pipe(ready) != 0)
        return die("pipe");
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigusr1;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGUSR1, &sa, NULL) != 0)
        return die("sigaction");

    const char *addresses[] = {address};
    docker_serve_options_init(&s.opts, sizeof s.opts);
    s.opts.addresses = addresses;
    s.opts.addresses_len = 1;
    s.opts.stop_fd = stop_pipe[0];
    s.opts.ready_fd = ready[1];
    s.opts.stop_grace_ms = 2000;
    pthread_t t;
    if (pthread_create(&t, NULL, serve_thread, &s) != 0) {
        fprintf(stderr, "pthread_create failed\n");
        return 1;
    }

    char b, answer[4096];
    int failed = 0;
    if (read(ready[0], &b, 1) != 1) {
        /* The server returned before it was ready: its error is in s.message. */
        pthread_join(t, NULL);
        return fail("docker_runtime_serve", s.result, s.message);
    }
    printf("serving on %s\n", address);
    failed |= request(sock_path, "[\"version\"]\n", answer, sizeof answer);
    char want[64];
    snprintf(want, sizeof want, "Version: %s\n", DOCKER_RUNTIME_VERSION);
    failed |= strcmp(answer, want) != 0;
    failed |= request(sock_path, "[\"info\"]\n", answer, sizeof answer);
    failed |= strstr(answer, "containers: 0") == NULL;

    raise(SIGUSR1); /* the handler writes to the stop pipe */
    pthread_join(t, NULL);
    if (s.result != DOCKER_OK)
        return fail("docker_runtime_serve", s.result, s.message);
    printf("stopped: %s\n", docker_result_name((int)s.result));
    if (access(sock_path, F_OK) == 0 || errno != ENOENT) {
        fprintf(stderr, "the socket %s is still there\n", sock_path);
        failed = 1;
    }

    docker_runtime_free(s.rt);
    close(stop_pipe[0]);
    close(stop_pipe[1]);
    close(ready[0]);
    rmdir(dir);
    puts(failed ? "FAILED" : "ok");
    return failed;
}
