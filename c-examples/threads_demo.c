/*
 * threads_demo: one runtime shared by 4 host threads, each creating, starting, waiting for
 * and removing 3 containers through the typed API, output collected per container.
 *
 *   threads_demo ROOT INIT_PATH
 *
 * ROOT holds a `busybox` image; INIT_PATH is the docker-init helper. Exits 0 on success.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "docker_runtime.h"

#define THREADS 4
#define RUNS 3

struct buf {
    char text[256];
    size_t len;
};

static int on_output(void *userdata, enum docker_stream stream, const uint8_t *bytes,
                     size_t len) {
    struct buf *b = userdata;
    (void)stream;
    size_t room = sizeof b->text - 1 - b->len;
    size_t n = len < room ? len : room;
    memcpy(b->text + b->len, bytes, n);
    b->len += n;
    b->text[b->len] = '\0';
    return 0;
}

struct job {
    docker_runtime *rt;
    int thread;
    int good;
    char error[512];
};

static void report(struct job *j, const char *what, docker_result r) {
    char msg[400];
    docker_error_message(msg, sizeof msg);
    snprintf(j->error, sizeof j->error, "%s: %s: %s", what, docker_result_name((int)r), msg);
}

static void *worker(void *arg) {
    struct job *j = arg;
    for (int run = 0; run < RUNS; run++) {
        char script[64], want[64];
        snprintf(script, sizeof script, "echo thread %d run %d; exit %d", j->thread, run, run);
        snprintf(want, sizeof want, "thread %d run %d\n", j->thread, run);
        const char *cmd[] = {"sh", "-c", script, NULL};
        docker_container_config cfg;
        docker_container_config_init(&cfg, sizeof cfg);
        cfg.image = "busybox";
        cfg.argv = cmd;
        cfg.network_mode = "none";
        docker_container *c = NULL;
        docker_result r = docker_container_create(j->rt, &cfg, &c);
        if (r != DOCKER_OK) {
            report(j, "create", r);
            return NULL;
        }
        struct buf out = {{0}, 0};
        docker_container_io io;
        docker_container_io_init(&io, sizeof io);
        io.output = on_output;
        io.userdata = &out;
        int code = -1;
        if ((r = docker_container_start(c, &io)) != DOCKER_OK)
            report(j, "start", r);
        else if ((r = docker_container_wait(c, 60000, &code)) != DOCKER_OK)
            report(j, "wait", r);
        else if ((r = docker_container_remove(c, 0)) != DOCKER_OK)
            report(j, "remove", r);
        docker_container_free(c);
        if (r != DOCKER_OK)
            return NULL;
        if (code != run || strcmp(out.text, want) != 0) {
            snprintf(j->error, sizeof j->error, "run %d: exit %d, output %s", run, code,
                     out.text);
            return NULL;
        }
    }
    j->good = 1;
    return NULL;
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
    if (r != DOCKER_OK) {
        fprintf(stderr, "docker_runtime_new: %s\n", docker_result_name((int)r));
        return 1;
    }
    pthread_t threads[THREADS];
    struct job jobs[THREADS];
    for (int i = 0; i < THREADS; i++) {
        jobs[i] = (struct job){.rt = rt, .thread = i, .good = 0, .error = ""};
        pthread_create(&threads[i], NULL, worker, &jobs[i]);
    }
    int good = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(threads[i], NULL);
        if (jobs[i].good)
            good++;
        else
            fprintf(stderr, "thread %d: %s\n", i, jobs[i].error);
    }
    char *json = NULL;
    if (docker_runtime_containers_json(rt, 1, &json) == DOCKER_OK) {
        printf("containers left: %s\n", json);
        docker_string_free(json);
    }
    docker_runtime_free(rt);
    printf("%d of %d threads ran %d containers each\n", good, THREADS, RUNS);
    printf("%s\n", good == THREADS ? "ok" : "FAILED");
    return good == THREADS ? 0 : 1;
}
