/*
 * errors_demo: what the library answers to bad input. Every call below must fail with a clear
 * result code and message, and nothing may crash. Exits 0 when every answer is as expected.
 *
 *   errors_demo ROOT
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "docker_runtime.h"

static int failures = 0;

static void expect(const char *what, docker_result got, docker_result want, const char *needle) {
    char msg[512];
    size_t n = docker_error_message(msg, sizeof msg);
    int ok = got == want && (needle == NULL || strstr(msg, needle) != NULL);
    printf("%-44s -> %s: %s%s\n", what, docker_result_name((int)got), n ? msg : "(no message)",
           ok ? "" : "   <-- UNEXPECTED");
    if (!ok)
        failures++;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s ROOT\n", argv[0]);
        return 2;
    }
    docker_ip_allocator *ips = NULL;
    expect("ip allocator on 10.0.0.0/33", docker_ip_allocator_new("10.0.0.0/33", &ips),
           DOCKER_ERR_INVALID_ARGUMENT, "10.0.0.0/33");
    expect("ip allocator on abc", docker_ip_allocator_new("abc", &ips),
           DOCKER_ERR_INVALID_ARGUMENT, "abc");
    expect("ip allocator on NULL", docker_ip_allocator_new(NULL, &ips), DOCKER_ERR_NULL_ARGUMENT,
           "cidr");
    expect("invalid UTF-8 cidr", docker_ip_allocator_new("\xff\xfe/24", &ips),
           DOCKER_ERR_INVALID_UTF8, "UTF-8");

    /* A /30 has one address besides the gateway: the second acquire is exhaustion. */
    expect("ip allocator on 192.168.5.1/30", docker_ip_allocator_new("192.168.5.1/30", &ips),
           DOCKER_OK, NULL);
    char ip[16];
    expect("first acquire", docker_ip_allocator_acquire(ips, ip, sizeof ip), DOCKER_OK, NULL);
    expect("second acquire (exhausted)", docker_ip_allocator_acquire(ips, ip, sizeof ip),
           DOCKER_ERR_EXHAUSTED, "no free IP address");
    expect("acquire into a 4-byte buffer", docker_ip_allocator_acquire(ips, ip, 4),
           DOCKER_ERR_BUFFER_TOO_SMALL, "16");
    expect("acquire the gateway", docker_ip_allocator_acquire_specific(ips, "192.168.5.1"),
           DOCKER_ERR_IN_USE, "gateway");
    expect("release 192.168.5.2", docker_ip_allocator_release(ips, "192.168.5.2"), DOCKER_OK,
           NULL);
    expect("release it twice", docker_ip_allocator_release(ips, "192.168.5.2"),
           DOCKER_ERR_INVALID_ARGUMENT, "not allocated");
    expect("release outside the subnet", docker_ip_allocator_release(ips, "10.1.1.1"),
           DOCKER_ERR_INVALID_ARGUMENT, "not a host address");
    docker_ip_allocator_free(ips);
    docker_ip_allocator_free(NULL);

    docker_port_allocator *ports = NULL;
    expect("port range reversed", docker_port_allocator_new(2000, 1000, &ports),
           DOCKER_ERR_INVALID_ARGUMENT, "2000-1000");
    expect("port range 5000-5000", docker_port_allocator_new(5000, 5000, &ports), DOCKER_OK,
           NULL);
    uint16_t p;
    expect("take 5000", docker_port_allocator_acquire(ports, &p), DOCKER_OK, NULL);
    expect("take another (exhausted)", docker_port_allocator_acquire(ports, &p),
           DOCKER_ERR_EXHAUSTED, "no free port");
    expect("take 80 (outside)", docker_port_allocator_acquire_specific(ports, 80),
           DOCKER_ERR_INVALID_ARGUMENT, "outside");
    expect("NULL out pointer", docker_port_allocator_acquire(ports, NULL),
           DOCKER_ERR_NULL_ARGUMENT, "port");
    docker_port_allocator_free(ports);

    docker_runtime *rt = NULL;
    expect("runtime on NULL root", docker_runtime_new(NULL, NULL, &rt), DOCKER_ERR_NULL_ARGUMENT,
           "root");
    expect("runtime on a file as root", docker_runtime_new("/etc/hostname", NULL, &rt),
           DOCKER_ERR_INVALID_ARGUMENT, "not a directory");
    docker_runtime_options opts;
    expect("options init with a too small size", docker_runtime_options_init(&opts, 4),
           DOCKER_ERR_INVALID_ARGUMENT, "sizeof(struct docker_runtime_options)");
    docker_runtime_options_init(&opts, sizeof opts);
    opts.size = 8;
    expect("options with a wrong size", docker_runtime_new(argv[1], &opts, &rt),
           DOCKER_ERR_INVALID_ARGUMENT, "docker_runtime_options_init");
    docker_runtime_options_init(&opts, sizeof opts);
    opts.bridge_subnet = "10.0.0.0/33";
    expect("runtime with a bad subnet", docker_runtime_new(argv[1], &opts, &rt),
           DOCKER_ERR_INVALID_ARGUMENT, "10.0.0.0/33");

    expect("runtime on ROOT", docker_runtime_new(argv[1], NULL, &rt), DOCKER_OK, NULL);
    int status = -1;
    const char *bad[] = {"frobnicate"};
    expect("unknown command", docker_runtime_call(rt, 1, bad, -1, STDOUT_FILENO, &status),
           DOCKER_ERR_UNKNOWN_COMMAND, "frobnicate");
    printf("  (its exit status: %d)\n", status);
    const char *badflag[] = {"info", "--frob"};
    expect("unknown flag", docker_runtime_call(rt, 2, badflag, -1, STDOUT_FILENO, &status),
           DOCKER_ERR_INVALID_ARGUMENT, "unknown flag");
    expect("closed stdout fd", docker_runtime_call(rt, 1, bad, -1, 999, &status),
           DOCKER_ERR_IO, "stdout_fd 999");
    expect("NULL argv", docker_runtime_call(rt, 1, NULL, -1, STDOUT_FILENO, &status),
           DOCKER_ERR_NULL_ARGUMENT, "argv");
    expect("NULL runtime", docker_runtime_call(NULL, 1, bad, -1, STDOUT_FILENO, &status),
           DOCKER_ERR_NULL_ARGUMENT, "runtime");
    docker_runtime_free(rt);
    docker_runtime_free(NULL);

    printf(failures ? "%d UNEXPECTED\n" : "all errors as expected\n", failures);
    return failures ? 1 : 0;
}
