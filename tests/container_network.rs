//! Containers on the network: the bridge, their addresses, port mappings reachable from the
//! host (at the container's address and at 127.0.0.1:PUBLIC), `port`, `--network none`,
//! release on exit and across restarts, and the isolation of the bridge (a neighbour routed
//! through the host reaches only published ports; a container never reaches the host's
//! loopback). Each test owns its bridge, subnet, chains and ports. Traffic goes only to
//! 127.0.0.0/8 and to the test's own containers and namespaces.

mod common;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use common::cli::{call, detached, ok};
use common::net::{sh, ForwardOn, Neighbour};
use common::Fixture;

/// GET / from `addr`, retrying until the server is up (at most ~10 s).
fn http_get(addr: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let attempt = (|| -> std::io::Result<String> {
            let mut s = TcpStream::connect_timeout(&addr.parse().unwrap(), Duration::from_secs(2))?;
            s.set_read_timeout(Some(Duration::from_secs(5)))?;
            s.write_all(b"GET /index.html HTTP/1.0\r\n\r\n")?;
            let mut out = String::new();
            s.read_to_string(&mut out)?;
            Ok(out)
        })();
        match attempt {
            Ok(body) if body.contains("200") => return body,
            _ if Instant::now() > deadline => panic!("no answer from {addr}: {attempt:?}"),
            _ => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

fn inspect(f: &Fixture, id: &str) -> serde_json::Value {
    serde_json::from_str(&ok(&f.rt, &["inspect", id])).unwrap()
}

/// A detached busybox `httpd -f -p 80` container with `-p SPEC` for each of `ports`.
fn start_httpd(f: &Fixture, ports: &[&str]) -> String {
    let mut args = vec!["run", "-d"];
    for p in ports {
        args.extend(["-p", p]);
    }
    args.extend([
        "busybox", "sh", "-c",
        "mkdir -p /www && echo hello-from-container > /www/index.html && exec httpd -f -p 80 -h /www",
    ]);
    ok(&f.rt, &args).trim().to_string()
}

#[test]
fn httpd_is_reachable_at_its_address_and_at_localhost() {
    let f = Fixture::new("cnet-http");
    let id = start_httpd(&f, &["80"]);
    let info = inspect(&f, &id);
    let ns = &info["NetworkSettings"];
    let ip = ns["IpAddress"].as_str().unwrap().to_string();
    assert_eq!(ns["Gateway"], f.net.gateway.to_string().as_str());
    assert_eq!(ns["IpPrefixLen"], 24);
    let public = ns["PortMapping"]["80"].as_str().unwrap().to_string();
    assert_eq!(ok(&f.rt, &["port", &id, "80"]), format!("{public}\n"));
    let port: u16 = public.parse().unwrap();
    assert!((f.net.ports.0..=f.net.ports.1).contains(&port));
    assert!(http_get(&format!("{ip}:80")).contains("hello-from-container"));
    assert!(http_get(&format!("127.0.0.1:{public}")).contains("hello-from-container"));
    let out = call(&f.rt, &["port", &id, "81"]);
    assert!(
        out.stderr
            .contains("no public port is mapped to private port 81"),
        "{}",
        out.stderr
    );
    // Stopping releases the rule, the address and the port.
    ok(&f.rt, &["kill", &id]);
    ok(&f.rt, &["rm", &id]);
    // The network is given back just after the exit is announced.
    let released = || f.net.dnat_rules().is_empty() && f.net.bridge_ports().is_empty();
    assert!(
        common::eventually(Duration::from_secs(10), released),
        "{:?} {:?}",
        f.net.dnat_rules(),
        f.net.bridge_ports()
    );
    assert!(TcpStream::connect_timeout(
        &format!("127.0.0.1:{public}").parse().unwrap(),
        Duration::from_millis(300)
    )
    .is_err());
}

#[test]
fn containers_reach_each_other_and_the_gateway() {
    let f = Fixture::new("cnet-peers");
    let server = start_httpd(&f, &["80"]);
    let ip = inspect(&f, &server)["NetworkSettings"]["IpAddress"]
        .as_str()
        .unwrap()
        .to_string();
    http_get(&format!("{ip}:80"));
    let out = ok(
        &f.rt,
        &["run", "busybox", "sh", "-c", &format!(
            "wget -q -O - http://{ip}/index.html; ping -c 1 -W 2 {gw} >/dev/null && echo gateway-ok; ip route | grep default; ip -o -4 addr show eth0 | wc -l",
            gw = f.net.gateway
        )],
    );
    assert!(out.contains("hello-from-container"), "{out}");
    assert!(out.contains("gateway-ok"), "{out}");
    assert!(
        out.contains(&format!("default via {}", f.net.gateway)),
        "{out}"
    );
    assert!(out.trim_end().ends_with('1'), "{out}");
}

#[test]
fn network_none_has_only_loopback() {
    let f = Fixture::new("cnet-none");
    let out = ok(
        &f.rt,
        &[
            "run",
            "--network",
            "none",
            "busybox",
            "sh",
            "-c",
            "ls /sys/class/net | tr '\\n' ' '; ping -c 1 -W 1 127.0.0.1 > /dev/null && echo lo-up",
        ],
    );
    assert_eq!(out, "lo lo-up\n");
    let id = detached(&f.rt, &["busybox", "true"]);
    ok(&f.rt, &["wait", &id]);
    assert_eq!(inspect(&f, &id)["NetworkSettings"]["IpAddress"], "");
}

#[test]
fn a_taken_public_port_is_a_clear_error_and_leaves_nothing() {
    let f = Fixture::new("cnet-taken");
    let public = f.net.ports.0 + 7;
    let first = start_httpd(&f, &[&format!("{public}:80")]);
    assert_eq!(ok(&f.rt, &["port", &first, "80"]), format!("{public}\n"));
    let before = f.rt.network().unwrap().ipam().held().unwrap();
    let out = call(
        &f.rt,
        &[
            "run",
            "-d",
            "-p",
            &format!("{public}:80"),
            "busybox",
            "sleep",
            "100",
        ],
    );
    assert_ne!(out.status, 0);
    assert!(
        out.stderr.contains(&format!("port {public}")),
        "{}",
        out.stderr
    );
    assert_eq!(f.rt.network().unwrap().ipam().held().unwrap(), before);
    assert_eq!(ok(&f.rt, &["ps", "-q"]).lines().count(), 1);
    assert_eq!(f.net.bridge_ports().len(), 1);
    for bad in ["abc", "0", "70000", "1:2:3"] {
        let out = call(&f.rt, &["run", "-p", bad, "busybox", "true"]);
        assert_ne!(out.status, 0, "{bad}");
        assert!(out.stderr.contains("port"), "{bad}: {}", out.stderr);
    }
    assert_eq!(f.rt.network().unwrap().ipam().held().unwrap(), before);
}

#[test]
fn two_hundred_cycles_with_ports_leave_nothing() {
    let f = Fixture::new("cnet-cycles");
    for _ in 0..200 {
        let id = ok(&f.rt, &["run", "-d", "-p", "80", "busybox", "true"])
            .trim()
            .to_string();
        ok(&f.rt, &["wait", &id]);
        ok(&f.rt, &["rm", &id]);
    }
    let held = || f.rt.network().unwrap().ipam().held().unwrap();
    // The kernel deletes each veth with its container's namespace, shortly after the exit.
    let idle = || {
        let (ips, ports) = held();
        f.net.dnat_rules().is_empty()
            && ips.is_empty()
            && ports.is_empty()
            && f.net.bridge_ports().is_empty()
    };
    assert!(
        common::eventually(Duration::from_secs(10), idle),
        "{:?} {:?}",
        held(),
        f.net.bridge_ports()
    );
    let (_, links) = sh("ip", &["-o", "link", "show", "type", "veth"]);
    assert!(!links.contains(&f.net.bridge), "{links}");
}

#[test]
fn twenty_concurrent_starts_never_share_an_address_or_port() {
    let f = Fixture::new("cnet-conc");
    let ids: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..20)
            .map(|_| {
                s.spawn(|| {
                    ok(&f.rt, &["run", "-d", "-p", "80", "busybox", "sleep", "100"])
                        .trim()
                        .to_string()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut ips = BTreeSet::new();
    let mut ports = BTreeSet::new();
    for id in &ids {
        let ns = inspect(&f, id)["NetworkSettings"].clone();
        assert!(ips.insert(ns["IpAddress"].as_str().unwrap().to_string()));
        assert!(ports.insert(ns["PortMapping"]["80"].as_str().unwrap().to_string()));
    }
    assert_eq!(f.net.dnat_rules().len(), 20);
}

#[test]
fn mappings_survive_a_restart_once_and_values_are_not_reissued() {
    let f = Fixture::new("cnet-restart");
    let id = start_httpd(&f, &["80"]);
    let ns = inspect(&f, &id)["NetworkSettings"].clone();
    let public = ns["PortMapping"]["80"].as_str().unwrap().to_string();
    http_get(&format!("127.0.0.1:{public}"));
    let rules = f.net.dnat_rules();
    assert_eq!(rules.len(), 1);
    // A second runtime on the same root, as a restarted daemon.
    let rt2 = f.reopen();
    assert_eq!(f.net.dnat_rules(), rules, "the rule exists exactly once");
    assert_eq!(f.net.jumps(), f.net.jumps_once());
    assert!(http_get(&format!("127.0.0.1:{public}")).contains("hello-from-container"));
    let other = ok(&rt2, &["run", "-d", "-p", "80", "busybox", "sleep", "100"])
        .trim()
        .to_string();
    let ns2: serde_json::Value = serde_json::from_str(&ok(&rt2, &["inspect", &other])).unwrap();
    assert_ne!(ns2["NetworkSettings"]["IpAddress"], ns["IpAddress"]);
    assert_ne!(
        ns2["NetworkSettings"]["PortMapping"]["80"],
        ns["PortMapping"]["80"]
    );
    // The restarted runtime stops what the first one started and releases its network.
    ok(&rt2, &["kill", &id]);
    ok(&rt2, &["rm", &id]);
    ok(&rt2, &["rm", "-f", &other]);
    let held = || rt2.network().unwrap().ipam().held().unwrap();
    let idle = || {
        let (ips, ports) = held();
        f.net.dnat_rules().is_empty() && ips.is_empty() && ports.is_empty()
    };
    assert!(
        common::eventually(Duration::from_secs(10), idle),
        "{:?}",
        held()
    );
}

#[test]
fn a_runtime_with_default_options_adopts_the_roots_network() {
    let f = Fixture::new("cnet-adopt");
    let id = start_httpd(&f, &["80"]);
    // As the in-process client would open the root of a daemon started with -b/--bip/...
    let opts = docker_runtime::RuntimeOptions {
        init_path: Some(env!("CARGO_BIN_EXE_docker-init").into()),
        ..Default::default()
    };
    let rt = std::sync::Arc::new(docker_runtime::Runtime::new(&f.root(), opts).unwrap());
    assert_eq!(rt.options().network.bridge_name, f.net.bridge);
    assert_eq!(rt.options().network.iptables_chain, f.net.chain);
    assert!(!rt.options().network.ip_forward);
    rt.restore().unwrap();
    assert_eq!(f.net.dnat_rules().len(), 1);
    ok(&rt, &["rm", "-f", &id]);
    // A corrupt settings file is logged and the defaults are kept.
    std::fs::write(f.root().join("network/settings.json"), b"{").unwrap();
    let rt =
        docker_runtime::Runtime::new(&f.root(), docker_runtime::RuntimeOptions::default()).unwrap();
    assert_eq!(rt.options().network.bridge_name, "lxcbr0");
}

/// `iptables -w -t TABLE -D CHAIN RULE`: one of the runtime's fixed rules taken away, as on a
/// host whose chains an older runtime (main c49bff3) made.
fn delete_rule(table: &str, chain: &str, rule: &str) {
    let mut args = vec!["-w", "-t", table, "-D", chain];
    args.extend(rule.split_whitespace());
    let (done, out) = sh("iptables", &args);
    assert!(done, "iptables {}: {out}", args.join(" "));
}

fn ip_of(f: &Fixture, id: &str) -> String {
    inspect(f, id)["NetworkSettings"]["IpAddress"]
        .as_str()
        .unwrap()
        .to_string()
}

fn public_of(f: &Fixture, id: &str) -> String {
    inspect(f, id)["NetworkSettings"]["PortMapping"]["80"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Attack: a neighbour that routes the bridge's subnet through the host (which forwards once
/// `ip_forward` is on, as the runtime makes it by default) connects to port 80 of a container
/// that never published it.
/// Without the protection (main c49bff3, or below with `-o BRIDGE -j DROP` deleted from
/// `CHAIN-ISO`) nothing stops the forwarded connection under the host's `FORWARD` policy
/// `ACCEPT` (the default, and this machine's) and the neighbour gets httpd's page. With it, the
/// neighbour reaches only the published port, DNAT'ed on the host's address, and containers
/// still reach the neighbour.
#[test]
fn a_neighbour_routed_through_the_host_reaches_only_published_ports() {
    let f = Fixture::new("cnet-nbr");
    let hidden = start_httpd(&f, &[]);
    let published = start_httpd(&f, &["80"]);
    let hidden_ip = ip_of(&f, &hidden);
    // Both serve (the host itself reaches any container: that is no forwarding).
    http_get(&format!("{hidden_ip}:80"));
    http_get(&format!("{}:80", ip_of(&f, &published)));
    let subnet = format!("{}/24", Ipv4Addr::from(u32::from(f.net.gateway) & !0xff));
    let nbr = Neighbour::new(&[&subnet]);
    // GET / from the neighbour: the page, or why not.
    let fetch = |addr: &str| -> Result<String, String> {
        let addr = addr.parse().unwrap();
        let mut s = nbr
            .connect(addr, Duration::from_secs(2))
            .map_err(|e| format!("connecting to {addr}: {e}"))?;
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut page = String::new();
        s.write_all(b"GET /index.html HTTP/1.0\r\n\r\n")
            .and_then(|()| s.read_to_string(&mut page))
            .map_err(|e| format!("reading from {addr}: {e}"))?;
        Ok(page)
    };
    let via_host = format!("{}:{}", nbr.host_ip, public_of(&f, &published));
    let hidden_port = format!("{hidden_ip}:80");
    let page = fetch(&via_host).unwrap();
    assert!(page.contains("hello-from-container"), "{page}");
    let attack = fetch(&hidden_port);
    assert!(
        attack.is_err(),
        "the neighbour reached an unpublished port: {attack:?}"
    );

    // Containers still reach out through the host (masqueraded as its address on the way).
    let listener = nbr.listen().unwrap();
    let port = listener.local_addr().unwrap().port();
    let answering = std::thread::spawn(move || {
        listener.set_nonblocking(true).unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        let (mut conn, peer) = loop {
            match listener.accept() {
                Ok(accepted) => break accepted,
                Err(e) if Instant::now() > deadline => panic!("no container came: {e}"),
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        };
        conn.set_nonblocking(false).unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut request = [0u8; 1024];
        let _ = conn.read(&mut request);
        conn.write_all(b"HTTP/1.0 200 OK\r\n\r\nhello-from-the-neighbour\n")
            .unwrap();
        peer.ip()
    });
    let out = ok(
        &f.rt,
        &[
            "run",
            "busybox",
            "wget",
            "-q",
            "-O",
            "-",
            &format!("http://{}:{port}/", nbr.ip),
        ],
    );
    assert_eq!(out, "hello-from-the-neighbour\n");
    assert_eq!(answering.join().unwrap(), nbr.host_ip);

    let (_, forward) = sh("iptables", &["-w", "-S", "FORWARD"]);
    if !forward.lines().any(|l| l == "-P FORWARD ACCEPT") {
        eprintln!("FORWARD's policy is not ACCEPT: it drops the attack by itself, skipped");
        return;
    }
    // Without the drop, the attack succeeds.
    let iso = format!("{}-ISO", f.net.chain);
    delete_rule("mangle", &iso, &format!("-o {} -j DROP", f.net.bridge));
    let page = fetch(&hidden_port).unwrap();
    assert!(page.contains("hello-from-container"), "{page}");
    // A runtime starting on the root finds the chain not as it should be and refills it.
    let _restarted = f.reopen();
    let attack = fetch(&hidden_port);
    assert!(
        attack.is_err(),
        "the neighbour reached an unpublished port: {attack:?}"
    );
    let page = fetch(&via_host).unwrap();
    assert!(page.contains("hello-from-container"), "{page}");
}

/// `wget` of `url` from a fresh container of `f` (given 5 s: busybox's own `wget -T` crashes;
/// under a shell, as `timeout`'s signal would not end the namespace's first process): its
/// output, or why not.
fn fetch_from_container(f: &Fixture, url: &str) -> Result<String, String> {
    let script = format!("timeout 5 wget -q -O - {url}; exit $?");
    let out = call(&f.rt, &["run", "busybox", "sh", "-c", &script]);
    if out.status == 0 {
        Ok(out.stdout)
    } else {
        Err(format!(
            "status {}: {}{}",
            out.status, out.stdout, out.stderr
        ))
    }
}

/// Attack: two runtimes on one host, each with its own bridge (two users' runtimes, or a test
/// runtime beside the real one): a container of one connects straight to the address of a
/// container of the other, at a port that was never published.
/// Without the protection (main 07801a1: the drop sat in `filter`, behind every runtime's
/// accept of what leaves its own bridge, so whichever runtime's jump came first in `FORWARD`
/// decided; the runtime started last had its jump first and its containers got httpd's page
/// from the other bridge; shown below with the `mangle` drop deleted) the page comes back. With
/// it, only the published port, DNAT'ed on the host's address, is reached, in both directions.
#[test]
fn a_container_of_another_runtime_reaches_only_published_ports() {
    let first = Fixture::new("cnet-iso1");
    let second = Fixture::new("cnet-iso2");
    let _forward = ForwardOn::new();
    let hidden = start_httpd(&first, &[]);
    let published = start_httpd(&first, &["80"]);
    let hidden_url = format!("http://{}:80/index.html", ip_of(&first, &hidden));
    http_get(&format!("{}:80", ip_of(&first, &hidden)));
    http_get(&format!("{}:80", ip_of(&first, &published)));
    // The published port through the host's address on the second bridge (its gateway).
    let via_host = format!(
        "http://{}:{}/index.html",
        second.net.gateway,
        public_of(&first, &published)
    );
    let page = fetch_from_container(&second, &via_host).unwrap();
    assert!(page.contains("hello-from-container"), "{page}");
    let attack = fetch_from_container(&second, &hidden_url);
    assert!(
        attack.is_err(),
        "a container of another runtime reached an unpublished port: {attack:?}"
    );
    // The other way round too (the other runtime's jumps come first now).
    let back = start_httpd(&second, &[]);
    let back_url = format!("http://{}:80/index.html", ip_of(&second, &back));
    http_get(&format!("{}:80", ip_of(&second, &back)));
    let attack = fetch_from_container(&first, &back_url);
    assert!(attack.is_err(), "reached an unpublished port: {attack:?}");

    let (_, forward) = sh("iptables", &["-w", "-S", "FORWARD"]);
    if !forward.lines().any(|l| l == "-P FORWARD ACCEPT") {
        eprintln!("FORWARD's policy is not ACCEPT: it drops the attack by itself, skipped");
        return;
    }
    // Without the first runtime's drop, the second runtime's accept lets the attack through.
    let iso = format!("{}-ISO", first.net.chain);
    delete_rule("mangle", &iso, &format!("-o {} -j DROP", first.net.bridge));
    let page = fetch_from_container(&second, &hidden_url).unwrap();
    assert!(page.contains("hello-from-container"), "{page}");
}

/// A probe sending a TCP SYN out of the container's `eth0` to the gateway's MAC address for any
/// destination, 127.0.0.1 included; built static, so it runs in the busybox image.
const LO_PROBE_C: &str = r#"/* lo-probe GATEWAY_MAC DST_IP PORT: send a TCP SYN for DST_IP:PORT from eth0's address, in an
 * Ethernet frame to GATEWAY_MAC, whatever the container's routes say (an AF_PACKET socket:
 * CAP_NET_RAW), three times a second apart; print "answered" on a SYN-ACK or a reset from
 * DST_IP:PORT, "no answer" when none came within 3 s. */
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static unsigned short checksum(const unsigned char *b, size_t n) {
    unsigned long acc = 0;
    for (; n > 1; n -= 2, b += 2) acc += (unsigned long)(b[0] << 8 | b[1]);
    if (n) acc += (unsigned long)(b[0] << 8);
    while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
    return htons((unsigned short)~acc);
}

static void die(const char *what) { perror(what); exit(2); }

int main(int argc, char **argv) {
    if (argc != 4) { fprintf(stderr, "usage: lo-probe MAC IP PORT\n"); return 2; }
    struct sockaddr_ll to = {0};
    unsigned char *m = to.sll_addr;
    if (sscanf(argv[1], "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", m, m + 1, m + 2, m + 3, m + 4, m + 5) != 6)
        die("MAC");
    struct in_addr dst;
    if (!inet_aton(argv[2], &dst)) die("IP");
    unsigned short port = (unsigned short)atoi(argv[3]);

    struct ifreq ifr = {0};
    strcpy(ifr.ifr_name, "eth0");
    int inet = socket(AF_INET, SOCK_DGRAM, 0);
    if (inet < 0 || ioctl(inet, SIOCGIFADDR, &ifr) < 0) die("eth0's address");
    struct in_addr src = ((struct sockaddr_in *)&ifr.ifr_addr)->sin_addr;

    int s = socket(AF_PACKET, SOCK_DGRAM, htons(ETH_P_IP));
    if (s < 0) die("socket(AF_PACKET)");
    to.sll_family = AF_PACKET;
    to.sll_protocol = htons(ETH_P_IP);
    to.sll_ifindex = (int)if_nametoindex("eth0");
    to.sll_halen = 6;
    if (bind(s, (struct sockaddr *)&to, sizeof to) < 0) die("bind");

    /* Nanoseconds in the seed: the probe is pid 1 in every container, and two runs within a
     * second must not share a port and sequence number (a SYN-ACK the host retransmits for
     * the first would answer the second). */
    struct timespec seed;
    clock_gettime(CLOCK_REALTIME, &seed);
    srand((unsigned)seed.tv_nsec ^ (unsigned)seed.tv_sec ^ (unsigned)getpid());
    unsigned short sport = (unsigned short)(40000 + rand() % 20000);
    unsigned char pkt[40] = {0};
    struct iphdr *ip = (struct iphdr *)pkt;
    struct tcphdr *tcp = (struct tcphdr *)(pkt + 20);
    ip->version = 4;
    ip->ihl = 5;
    ip->tot_len = htons(40);
    ip->id = htons((unsigned short)getpid());
    ip->ttl = 64;
    ip->protocol = IPPROTO_TCP;
    ip->saddr = src.s_addr;
    ip->daddr = dst.s_addr;
    ip->check = checksum(pkt, 20);
    tcp->source = htons(sport);
    tcp->dest = htons(port);
    tcp->seq = htonl((unsigned)rand());
    tcp->doff = 5;
    tcp->syn = 1;
    tcp->window = htons(65535);
    unsigned char pseudo[32] = {0};
    memcpy(pseudo, &ip->saddr, 4);
    memcpy(pseudo + 4, &ip->daddr, 4);
    pseudo[9] = IPPROTO_TCP;
    pseudo[11] = 20;
    memcpy(pseudo + 12, tcp, 20);
    tcp->check = checksum(pseudo, 32);

    for (int attempt = 0; attempt < 3; attempt++) {
        if (sendto(s, pkt, sizeof pkt, 0, (struct sockaddr *)&to, sizeof to) < 0) die("sendto");
        struct timespec end, now;
        clock_gettime(CLOCK_MONOTONIC, &end);
        end.tv_sec += 1;
        for (;;) {
            clock_gettime(CLOCK_MONOTONIC, &now);
            long left = (end.tv_sec - now.tv_sec) * 1000 + (end.tv_nsec - now.tv_nsec) / 1000000;
            if (left <= 0) break;
            struct pollfd p = {s, POLLIN, 0};
            if (poll(&p, 1, (int)left) <= 0) continue;
            unsigned char in[1600];
            ssize_t n = recv(s, in, sizeof in, 0);
            const struct iphdr *rip = (const struct iphdr *)in;
            if (n < 40 || rip->version != 4 || rip->protocol != IPPROTO_TCP ||
                rip->saddr != dst.s_addr || n < rip->ihl * 4 + 20)
                continue;
            const struct tcphdr *rtcp = (const struct tcphdr *)(in + rip->ihl * 4);
            if (rtcp->source != htons(port) || rtcp->dest != htons(sport)) continue;
            if (ntohl(rtcp->ack_seq) != ntohl(tcp->seq) + 1) continue;
            if ((rtcp->syn && rtcp->ack) || rtcp->rst) {
                puts("answered");
                return 0;
            }
        }
    }
    puts("no answer");
    return 0;
}
"#;

/// Compile [`LO_PROBE_C`] into the fixture's busybox image as `/bin/lo-probe`.
fn install_lo_probe(f: &Fixture) {
    f.install_static_c(LO_PROBE_C, "bin/lo-probe");
}

/// Attack (the CVE-2020-8558 class): `route_localnet=1` on the bridge, which `127.0.0.1:PUBLIC`
/// needs, also makes the host accept packets for 127.0.0.0/8 arriving on the bridge; a container
/// with `CAP_NET_RAW` (in docker's default set) sends a TCP SYN for `127.0.0.1:PORT` in a frame
/// to the gateway's MAC address and reaches a service the host meant for itself alone.
/// Without the protection (main c49bff3, or below with the drop deleted from `CHAIN-IN`) the
/// host's loopback-only listener answers with a SYN-ACK. With it there is no answer, while the
/// host still reaches a published port at `127.0.0.1:PUBLIC`, and the same probe is answered at
/// the gateway's own address (the probe itself works).
#[test]
fn a_container_cannot_reach_the_hosts_loopback() {
    let f = Fixture::new("cnet-lo");
    install_lo_probe(&f);
    f.rt.network().unwrap();
    let loopback_only = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let on_gateway = TcpListener::bind((f.net.gateway, 0)).unwrap();
    // The gateway's MAC address as the container learns it (a bridge takes a port's address
    // when ports join it, so the host cannot tell it in advance).
    let probe = |listener: &TcpListener| {
        let addr = listener.local_addr().unwrap();
        let script = format!(
            "ping -c 1 -W 2 {gw} > /dev/null; \
             exec lo-probe $(awk '$1 == \"{gw}\" {{ print $4 }}' /proc/net/arp) {} {}",
            addr.ip(),
            addr.port(),
            gw = f.net.gateway
        );
        ok(&f.rt, &["run", "busybox", "sh", "-c", &script])
    };
    assert_eq!(probe(&on_gateway), "answered\n");
    assert_eq!(probe(&loopback_only), "no answer\n");
    let id = start_httpd(&f, &["80"]);
    let localhost_public = format!("127.0.0.1:{}", public_of(&f, &id));
    assert!(http_get(&localhost_public).contains("hello-from-container"));

    // Without the drop, the attack succeeds.
    let rule = format!(
        "-d 127.0.0.0/8 -i {} -m conntrack ! --ctstate DNAT -j DROP",
        f.net.bridge
    );
    delete_rule("filter", &format!("{}-IN", f.net.chain), &rule);
    assert_eq!(probe(&loopback_only), "answered\n");
    // A runtime starting on the root finds the chain not as it should be and refills it.
    let _restarted = f.reopen();
    assert_eq!(probe(&loopback_only), "no answer\n");
    assert!(http_get(&localhost_public).contains("hello-from-container"));
}
