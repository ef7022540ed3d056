/*
 * typed_bench: the typed C API against the command dispatch, in one process.
 *
 *   typed_bench ROOT INIT BUSYBOX_TAR N
 *
 * ROOT is a fresh runtime root (the image BUSYBOX_TAR, from contrib/mkimage-busybox.sh, is
 * imported as `busybox` through docker_image_import); INIT is the docker-init helper; N runs
 * per figure. Containers have no network (the bridge's cost is the same on both paths).
 * Prints, per figure, the median and the 10th and 90th percentiles in ms:
 *   run-typed-detached   create, start (no stream), wait, remove of /bin/true
 *   run-typed-attached   the same with the output streamed into a callback
 *   run-dispatch         docker_runtime_call("run --rm --network none busybox /bin/true")
 * then 1 GiB of output (`head -c 1073741824 /dev/zero` in the container), 3 times each:
 *   gib-callback         into an output callback that counts the bytes
 *   gib-pipe-cat         into io.stdout_fd, a pipe read by `cat > /dev/null`
 *   gib-host-pipe        the host's `head -c 1G /dev/zero | cat > /dev/null` (no container)
 *   gib-detached         no stream: what the container's writing into its log costs alone
 *   gib-callback-dd      into the callback again, written by `dd bs=1M` (1024 writes rather
 *                        than head's 4 KiB ones: the cost per system call in the container)
 * as seconds and MB/s.
 */
#define _POSIX_C_SOURCE 200809L
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "docker_runtime.h"

#define GIB 1073741824LL

static docker_runtime *rt;

static void die(const char *what, docker_result r) {
    char msg[512];
    docker_error_message(msg, sizeof msg);
    fprintf(stderr, "typed_bench: %s: %s: %s\n", what, docker_result_name((int)r), msg);
    exit(1);
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void report(const char *name, double *t, int n) {
    qsort(t, (size_t)n, sizeof *t, cmp);
    printf("%-20s median %7.2f ms  p10 %7.2f  p90 %7.2f  (n=%d)\n", name, t[n / 2] * 1e3,
           t[n / 10] * 1e3, t[(n * 9) / 10 < n ? (n * 9) / 10 : n - 1] * 1e3, n);
}

/* Counts stdout's bytes (dd reports on stderr). */
static int count_bytes(void *userdata, enum docker_stream stream, const uint8_t *bytes,
                       size_t len) {
    (void)bytes;
    if (stream == DOCKER_STREAM_STDOUT)
        *(long long *)userdata += (long long)len;
    return 0;
}

/* Create, start (with io, or detached), wait for and remove one container running argv. */
static int run_typed(const char *const *argv, const docker_container_io *io) {
    docker_container_config cfg;
    docker_container_config_init(&cfg, sizeof cfg);
    cfg.image = "busybox";
    cfg.argv = argv;
    cfg.network_mode = "none";
    docker_container *c = NULL;
    docker_result r;
    if ((r = docker_container_create(rt, &cfg, &c)) != DOCKER_OK)
        die("create", r);
    if ((r = docker_container_start(c, io)) != DOCKER_OK)
        die("start", r);
    int code = -1;
    if ((r = docker_container_wait(c, -1, &code)) != DOCKER_OK)
        die("wait", r);
    if ((r = docker_container_remove(c, 0)) != DOCKER_OK)
        die("remove", r);
    docker_container_free(c);
    return code;
}

static void run_dispatch(int devnull) {
    const char *argv[] = {"run", "--rm", "--network", "none", "busybox", "/bin/true"};
    int status = -1;
    docker_result r = docker_runtime_call(rt, 6, argv, -1, devnull, &status);
    if (r != DOCKER_OK || status != 0)
        die("run through the dispatch", r);
}

static void bench_runs(int n) {
    const char *true_argv[] = {"/bin/true", NULL};
    long long sink = 0;
    docker_container_io io;
    docker_container_io_init(&io, sizeof io);
    io.output = count_bytes;
    io.userdata = &sink;
    int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
    double *a = calloc((size_t)n, sizeof *a), *b = calloc((size_t)n, sizeof *b),
           *c = calloc((size_t)n, sizeof *c);
    /* Warm-up: the monitor thread, the seccomp cache, the page cache. */
    run_typed(true_argv, NULL);
    run_dispatch(devnull);
    /* Interleaved, so a neighbour's load spreads over all three. */
    for (int i = 0; i < n; i++) {
        double t = now();
        run_typed(true_argv, NULL);
        a[i] = now() - t;
        t = now();
        run_typed(true_argv, &io);
        b[i] = now() - t;
        t = now();
        run_dispatch(devnull);
        c[i] = now() - t;
    }
    report("run-typed-detached", a, n);
    report("run-typed-attached", b, n);
    report("run-dispatch", c, n);
    free(a);
    free(b);
    free(c);
    close(devnull);
}

static void report_gib(const char *name, double secs) {
    printf("%-20s %6.2f s  %7.0f MB/s\n", name, secs, (double)GIB / 1e6 / secs);
    fflush(stdout);
}

static pid_t spawn_cat(int *write_end) {
    int p[2];
    if (pipe(p) != 0) {
        perror("pipe");
        exit(1);
    }
    pid_t pid = fork();
    if (pid == 0) {
        dup2(p[0], 0);
        close(p[0]);
        close(p[1]);
        execl("/bin/sh", "sh", "-c", "cat > /dev/null", (char *)NULL);
        _exit(127);
    }
    close(p[0]);
    *write_end = p[1];
    return pid;
}

static void bench_gib(void) {
    const char *argv[] = {"head", "-c", "1073741824", "/dev/zero", NULL};
    for (int round = 0; round < 3; round++) {
        long long got = 0;
        docker_container_io io;
        docker_container_io_init(&io, sizeof io);
        io.output = count_bytes;
        io.userdata = &got;
        double t = now();
        run_typed(argv, &io);
        double secs = now() - t;
        if (got != GIB) {
            fprintf(stderr, "typed_bench: the callback got %lld bytes\n", got);
            exit(1);
        }
        report_gib("gib-callback", secs);

        int w;
        pid_t cat = spawn_cat(&w);
        docker_container_io_init(&io, sizeof io);
        io.stdout_fd = w;
        t = now();
        run_typed(argv, &io);
        close(w);
        waitpid(cat, NULL, 0);
        report_gib("gib-pipe-cat", now() - t);

        t = now();
        if (system("head -c 1073741824 /dev/zero | cat > /dev/null") != 0)
            exit(1);
        report_gib("gib-host-pipe", now() - t);

        t = now();
        run_typed(argv, NULL);
        report_gib("gib-detached", now() - t);

        const char *dd[] = {"dd", "if=/dev/zero", "bs=1048576", "count=1024", NULL};
        got = 0;
        docker_container_io_init(&io, sizeof io);
        io.output = count_bytes;
        io.userdata = &got;
        t = now();
        run_typed(dd, &io);
        report_gib("gib-callback-dd", now() - t);
        if (got != GIB) {
            fprintf(stderr, "typed_bench: the callback got %lld bytes from dd\n", got);
            exit(1);
        }
    }
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: %s ROOT INIT BUSYBOX_TAR N\n", argv[0]);
        return 2;
    }
    docker_runtime_options opts;
    docker_runtime_options_init(&opts, sizeof opts);
    opts.init_path = argv[2];
    docker_result r = docker_runtime_new(argv[1], &opts, &rt);
    if (r != DOCKER_OK)
        die("docker_runtime_new", r);
    int tar = open(argv[3], O_RDONLY | O_CLOEXEC);
    if (tar < 0) {
        perror(argv[3]);
        return 1;
    }
    char id[65];
    if ((r = docker_image_import(rt, tar, "busybox", NULL, id, sizeof id)) != DOCKER_OK)
        die("import", r);
    close(tar);
    bench_runs(atoi(argv[4]));
    bench_gib();
    docker_runtime_free(rt);
    return 0;
}
