#!/usr/bin/env python3
"""`docker run` through the C ABI, in-process: the figure "ABI" of bench/run.sh.

usage: abi_run.py [--warm-start] LIB ROOT BRIDGE SUBNET CHAIN INIT N -- COMMAND [ARG...]

Loads LIB (libdocker_runtime.so) with ctypes through python/docker_runtime.py's declarations,
creates a runtime on ROOT (its own bridge, subnet and nat chain, the docker-init helper INIT,
IP forwarding left alone), restores it, then calls `docker_runtime_call_with(COMMAND ARG...)`
N times with the output going to /dev/null, timing each call from the call to its return
(which, for `run` without -d, is the container's exit). Prints the N durations in seconds as
one JSON list. Creating and restoring the runtime, and one first call, are not timed: a
program embedding the library does those once.

--warm-start sets the runtime's `warm_start` option, as a long-lived program embedding the
library would: the runtime keeps one docker-init helper started ahead (in cgroup folders
made ahead) for the next start.
"""
import ctypes
import json
import os
import sys
import time


def main():
    try:
        sep = sys.argv.index("--")
    except ValueError:
        sys.exit(__doc__)
    head, args = sys.argv[1:sep], sys.argv[sep + 1:]
    warm = head[:1] == ["--warm-start"]
    if warm:
        head = head[1:]
    if len(head) != 7 or not args:
        sys.exit(__doc__)
    lib_path, root, bridge, subnet, chain, init, n = head
    os.environ["DOCKER_RUNTIME_LIB"] = lib_path
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
    import docker_runtime as dr  # noqa: E402 (the library path is set first)

    lib = dr.lib

    def check(result, what):
        if result != 0:
            n = lib.docker_error_message(None, 0)
            buf = ctypes.create_string_buffer(n + 1)
            lib.docker_error_message(buf, n + 1)
            sys.exit(f"abi_run: {what}: {lib.docker_result_name(result).decode()}: "
                     f"{buf.value.decode('utf-8', 'replace')}")

    # The options struct is filled here rather than through dr.Runtime, which has no
    # disable_ip_forward keyword: the bench must never switch on the host's IP forwarding.
    opts = dr.RuntimeOptions.init()
    keep = [s.encode() for s in (bridge, subnet, chain, init)]
    opts.bridge_name, opts.bridge_subnet, opts.iptables_chain, opts.init_path = keep
    opts.disable_ip_forward = 1
    opts.warm_start = 1 if warm else 0
    handle = ctypes.c_void_p()
    check(lib.docker_runtime_new(root.encode(), ctypes.byref(opts), ctypes.byref(handle)),
          "docker_runtime_new")
    loaded = ctypes.c_size_t()
    check(lib.docker_runtime_restore(handle, ctypes.byref(loaded)), "docker_runtime_restore")

    argv = (ctypes.c_char_p * len(args))(*[a.encode() for a in args])
    call = dr.CallOptions.init()
    null = os.open(os.devnull, os.O_RDWR)
    call.stdin_fd, call.stdout_fd, call.stderr_fd = -1, null, null
    status = ctypes.c_int(-1)
    times = []
    # One untimed call first: the runtime sets up its network manager (bridge check, chain
    # rebuild) on its first networked container, once per process, as a daemon does at start.
    for i in range(int(n) + 1):
        t = time.perf_counter()
        r = lib.docker_runtime_call_with(handle, len(args), argv, ctypes.byref(call),
                                         ctypes.byref(status))
        if i:
            times.append(time.perf_counter() - t)
        check(r, " ".join(args))
        if status.value != 0:
            sys.exit(f"abi_run: {' '.join(args)} exited {status.value}")
    lib.docker_runtime_free(handle)
    print(json.dumps(times))


main()
