"""Requests per second of GET /v1.41/containers/json: CLIENTS threads, each opening a unix
socket connection per request (our daemon closes after each answer; dockerd is asked the
same, Connection: close) for SECONDS. Usage: load.py SOCKET CLIENTS SECONDS"""
import socket, sys, threading, time

path, clients, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
REQ = b"GET /v1.41/containers/json HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n"
counts, lat, errors = [0] * clients, [], [0]
lock = threading.Lock()
end = time.monotonic() + seconds

def worker(i):
    mine = []
    while time.monotonic() < end:
        t = time.monotonic()
        s = socket.socket(socket.AF_UNIX)
        try:
            s.connect(path)
            s.sendall(REQ)
            data = b""
            while True:
                b = s.recv(65536)
                if not b:
                    break
                data += b
            if not data.startswith(b"HTTP/1.1 200"):
                errors[0] += 1
                continue
        finally:
            s.close()
        mine.append(time.monotonic() - t)
        counts[i] += 1
    with lock:
        lat.extend(mine)

ts = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
for t in ts:
    t.start()
for t in ts:
    t.join()
lat.sort()
p50 = lat[len(lat) // 2] * 1000 if lat else 0
print(f"{sum(counts) / seconds:.0f} requests/s, p50 {p50:.2f} ms, {errors[0]} errors")
