//! The port mapper, the masquerade and the filter that keeps the bridge closed, through
//! `iptables -w` and `iptables-restore -w` (the nf_tables backend here; the legacy one works the
//! same). Every rule the runtime adds lives in one of its own chains, and the only rules it puts
//! in the built-in chains are the jumps to them:
//!
//! | table  | own chain    | jumped to from                                  | holds |
//! |--------|--------------|-------------------------------------------------|-------|
//! | nat    | `CHAIN`      | `PREROUTING`, `OUTPUT` (`-m addrtype --dst-type LOCAL`) | one `DNAT` per mapping: `-p tcp --dport PUBLIC -j DNAT --to-destination IP:PRIVATE` |
//! | nat    | `CHAIN-POST` | `POSTROUTING`                                   | `-s SUBNET ! -o BRIDGE -j MASQUERADE` (containers' outbound traffic); `-s 127.0.0.0/8 -o BRIDGE -j MASQUERADE` (see below) |
//! | mangle | `CHAIN-ISO`  | `FORWARD` (first rule)                          | lets through what goes from the bridge to itself, replies and DNAT'ed connections going to the bridge; drops the rest forwarded into it (`-o BRIDGE -j DROP`): a neighbour that routes through the host, or a container of another runtime's bridge, reaches only published ports |
//! | filter | `CHAIN-FWD`  | `FORWARD` (first rule)                          | accepts what enters from the bridge, and replies and DNAT'ed connections going to it, so a `DROP` policy of `FORWARD` does not cut the containers off. The `FORWARD` policy itself is never changed |
//! | filter | `CHAIN-IN`   | `INPUT` (first rule)                            | `-d 127.0.0.0/8 -i BRIDGE -m conntrack ! --ctstate DNAT -j DROP`: a container never reaches the host's loopback-only services (see below) |
//!
//! `127.0.0.1:PUBLIC` from the host: the nat `OUTPUT` jump sends local connections through the
//! same `DNAT` rules; such a packet keeps its source `127.0.0.1`, which the kernel refuses to
//! route out of a real interface unless `route_localnet=1` is set on it (done on the bridge
//! only, by `bridge.rs`), and which the container could not answer, hence the masquerade of
//! `127.0.0.0/8` leaving through the bridge (the container sees the gateway as the peer).
//! `route_localnet=1` also lets the kernel accept packets *for* 127.0.0.0/8 arriving on the
//! bridge: a container with `CAP_NET_RAW` (in docker's default set) can send one to the
//! gateway's MAC address and reach whatever listens on the host's loopback (the
//! CVE-2020-8558 class). `CHAIN-IN` drops them unless they belong to a DNAT'ed connection (the
//! replies of `127.0.0.1:PUBLIC` do), as kube-proxy's fix does.
//!
//! Why the drop sits in `mangle`: every runtime's `CHAIN-FWD` accepts what leaves its own
//! bridge, and whichever jump is first in `FORWARD` decides, so with two runtimes (two bridges)
//! on one host a drop in `filter` would protect one bridge from the other only in one of the two
//! orders. The `mangle` table's `FORWARD` is traversed before `filter`'s and its chains here
//! never accept, so each bridge's drop holds whatever other runtimes accept (docker solves the
//! same with its shared isolation chains).
//!
//! A container's mappings are added in one `iptables-restore --noflush` transaction and removed
//! in another; [`Iptables::rebuild`] flushes and refills the `DNAT` chain atomically.

use std::io::Write;
use std::net::Ipv4Addr;
use std::process::{Child, Command, Stdio};

use ipnetwork::Ipv4Network;

use crate::error::{Error, ErrorKind, Result};

/// The longest chain name an option may give: iptables allows 28 bytes, and the runtime's
/// other chains add `-POST` / `-FWD` / `-ISO` / `-IN` to it.
pub const MAX_CHAIN_LEN: usize = 28 - 5;

/// One published port: `PUBLIC` on the host goes to `IP:PRIVATE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Mapping {
    pub public: u16,
    pub ip: Ipv4Addr,
    pub private: u16,
}

impl Mapping {
    /// The rule's specification after `-A CHAIN` / `-D CHAIN`.
    fn rule(&self) -> String {
        format!(
            "-p tcp -m tcp --dport {} -j DNAT --to-destination {}:{}",
            self.public, self.ip, self.private
        )
    }
}

/// The runtime's chains for one bridge.
#[derive(Debug, Clone)]
pub struct Iptables {
    chain: String,
    bridge: String,
    subnet: Ipv4Network,
}

/// A program started with its input written; [`Running::wait`] collects its verdict.
pub struct Running {
    child: Child,
    what: String,
}

/// Start a program with `input` on its standard input.
fn start(program: &str, args: &[&str], input: Option<&str>) -> Result<Running> {
    let mut cmd = Command::new(program);
    cmd.args(args)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| {
        let hint = if e.kind() == std::io::ErrorKind::NotFound {
            " (install the iptables package)"
        } else {
            ""
        };
        Error::io(format_args!("running {program}{hint}"), e)
    })?;
    let what = format!("{program} {}", args.join(" "));
    if let (Some(text), Some(mut stdin)) = (input, child.stdin.take()) {
        if let Err(e) = stdin.write_all(text.as_bytes()) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(Error::io(format_args!("writing to {what}"), e));
        }
    }
    Ok(Running { child, what })
}

impl Running {
    /// Wait for the program; a failure carries its error output.
    fn wait(self) -> Result<()> {
        let what = self.what;
        let out = self
            .child
            .wait_with_output()
            .map_err(|e| Error::io(format_args!("waiting for {what}"), e))?;
        if out.status.success() {
            return Ok(());
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        let stderr = stderr.trim();
        Err(Error::new(
            ErrorKind::Io,
            format!(
                "{what} failed ({}): {}",
                out.status,
                if stderr.is_empty() {
                    "no message"
                } else {
                    stderr
                }
            ),
        ))
    }
}

/// Run a program with `input` on its standard input; its error output becomes the message.
fn run(program: &str, args: &[&str], input: Option<&str>) -> Result<()> {
    start(program, args, input)?.wait()
}

fn iptables(args: &[&str]) -> Result<()> {
    let mut all = vec!["-w"];
    all.extend_from_slice(args);
    run("iptables", &all, None)
}

/// Whether `iptables -C ...` finds the rule (exit status 1 means it does not).
fn rule_exists(table: &str, chain: &str, spec: &[&str]) -> Result<bool> {
    let mut args = vec!["-w", "-t", table, "-C", chain];
    args.extend_from_slice(spec);
    let out = Command::new("iptables")
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| Error::io("running iptables", e))?;
    match out.status.code() {
        Some(0) => Ok(true),
        Some(1) => Ok(false),
        _ => Err(Error::new(
            ErrorKind::Io,
            format!(
                "iptables {} failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        )),
    }
}

/// Add the jump `spec` to a built-in chain: first in it, or at its end.
fn add_jump(table: &str, builtin: &str, spec: &[&str], first: bool) -> Result<()> {
    let mut args = vec!["-t", table];
    if first {
        args.extend_from_slice(&["-I", builtin, "1"]);
    } else {
        args.extend_from_slice(&["-A", builtin]);
    }
    args.extend_from_slice(spec);
    iptables(&args)
}

/// The current rules of every table, as `iptables-save` prints them.
fn saved_tables() -> Result<String> {
    let out = Command::new("iptables-save")
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| Error::io("running iptables-save (install the iptables package)", e))?;
    if !out.status.success() {
        return Err(Error::new(
            ErrorKind::Io,
            format!(
                "iptables-save failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The lines of `table` (`*nat` ... `COMMIT`) in `iptables-save` / `iptables-restore` text.
fn table_lines<'a>(text: &'a str, table: &str) -> Vec<&'a str> {
    let header = format!("*{table}");
    text.lines()
        .skip_while(|l| l.trim() != header)
        .skip(1)
        .take_while(|l| l.trim() != "COMMIT")
        .map(str::trim)
        .collect()
}

fn restore(script: &str) -> Result<()> {
    run("iptables-restore", &["-w", "--noflush"], Some(script))
}

impl Iptables {
    pub fn new(chain: &str, bridge: &str, subnet: Ipv4Network) -> Result<Iptables> {
        if chain.is_empty() || chain.len() > MAX_CHAIN_LEN {
            return Err(Error::invalid(format!(
                "invalid iptables chain name {chain:?}: use 1 to {MAX_CHAIN_LEN} characters"
            )));
        }
        Ok(Iptables {
            chain: chain.to_string(),
            bridge: bridge.to_string(),
            subnet: Ipv4Network::new(subnet.network(), subnet.prefix()).unwrap_or(subnet),
        })
    }

    /// The nat chain holding the DNAT rules.
    pub fn chain(&self) -> &str {
        &self.chain
    }

    pub fn post_chain(&self) -> String {
        format!("{}-POST", self.chain)
    }

    pub fn forward_chain(&self) -> String {
        format!("{}-FWD", self.chain)
    }

    pub fn input_chain(&self) -> String {
        format!("{}-IN", self.chain)
    }

    /// The mangle chain dropping what is forwarded into the bridge uninvited.
    pub fn isolation_chain(&self) -> String {
        format!("{}-ISO", self.chain)
    }

    /// The chains holding the fixed rules: (table, chain).
    fn fixed_chains(&self) -> [(&'static str, String); 4] {
        [
            ("nat", self.post_chain()),
            ("mangle", self.isolation_chain()),
            ("filter", self.forward_chain()),
            ("filter", self.input_chain()),
        ]
    }

    /// The jumps from the built-in chains: (table, built-in chain, rule spec, insert first).
    fn jumps(&self) -> Vec<(&'static str, &'static str, Vec<String>, bool)> {
        let local = |target: &str| {
            ["-m", "addrtype", "--dst-type", "LOCAL", "-j", target]
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
        };
        vec![
            ("nat", "PREROUTING", local(&self.chain), false),
            ("nat", "OUTPUT", local(&self.chain), false),
            (
                "nat",
                "POSTROUTING",
                vec!["-j".into(), self.post_chain()],
                false,
            ),
            (
                "mangle",
                "FORWARD",
                vec!["-j".into(), self.isolation_chain()],
                true,
            ),
            (
                "filter",
                "FORWARD",
                vec!["-j".into(), self.forward_chain()],
                true,
            ),
            (
                "filter",
                "INPUT",
                vec!["-j".into(), self.input_chain()],
                true,
            ),
        ]
    }

    /// The fixed rules of the masquerade, isolation, forward and input chains, as
    /// `iptables-restore` text that (re)declares, and so flushes, the four chains. Each rule is
    /// written as `iptables-save` prints it, so [`Self::is_set_up`] can compare the lines.
    fn fixed_rules(&self) -> String {
        let (post, iso, fwd, inp, br, net) = (
            self.post_chain(),
            self.isolation_chain(),
            self.forward_chain(),
            self.input_chain(),
            &self.bridge,
            self.subnet,
        );
        format!(
            "*nat\n:{post} - [0:0]\n\
             -A {post} -s {net} ! -o {br} -j MASQUERADE\n\
             -A {post} -s 127.0.0.0/8 -o {br} -j MASQUERADE\n\
             COMMIT\n\
             *mangle\n:{iso} - [0:0]\n\
             -A {iso} -i {br} -o {br} -j RETURN\n\
             -A {iso} -o {br} -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN\n\
             -A {iso} -o {br} -m conntrack --ctstate DNAT -j RETURN\n\
             -A {iso} -o {br} -j DROP\n\
             COMMIT\n\
             *filter\n:{fwd} - [0:0]\n:{inp} - [0:0]\n\
             -A {fwd} -i {br} -j ACCEPT\n\
             -A {fwd} -o {br} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n\
             -A {fwd} -o {br} -m conntrack --ctstate DNAT -j ACCEPT\n\
             -A {inp} -d 127.0.0.0/8 -i {br} -m conntrack ! --ctstate DNAT -j DROP\n\
             COMMIT\n"
        )
    }

    /// Make sure the chains exist with their fixed rules and are jumped to exactly once, without
    /// touching the DNAT rules already in the nat chain. The caller serializes calls (a lock
    /// file) so two runtimes never add the same jump twice.
    pub fn ensure(&self) -> Result<()> {
        // Usually all is there already (every runtime start and every in-process command
        // gets here): one `iptables-save` says so, instead of a process per check.
        if self.is_set_up(&saved_tables()?) {
            return Ok(());
        }
        if let Err(e) = iptables(&["-t", "nat", "-N", &self.chain]) {
            if !e.message().contains("already exists") {
                return Err(e.context("creating the nat chain"));
            }
        }
        restore(&self.fixed_rules())?;
        for (table, builtin, spec, first) in self.jumps() {
            let spec: Vec<&str> = spec.iter().map(String::as_str).collect();
            if !rule_exists(table, builtin, &spec)? {
                add_jump(table, builtin, &spec, first)?;
            }
        }
        Ok(())
    }

    /// Whether `save` (the output of `iptables-save`) shows the chains, exactly their fixed
    /// rules (in their order), and each jump exactly once.
    fn is_set_up(&self, save: &str) -> bool {
        let fixed = self.fixed_rules();
        let tables = ["nat", "mangle", "filter"].map(|t| (t, table_lines(save, t)));
        let lines_of = |table: &str| -> &[&str] {
            tables
                .iter()
                .find(|(t, _)| *t == table)
                .map_or(&[], |(_, lines)| lines.as_slice())
        };
        let declares = |lines: &[&str], chain: &str| {
            lines.iter().any(|l| l.starts_with(&format!(":{chain} ")))
        };
        let rules_of = |lines: &[&str], chain: &str| -> Vec<String> {
            let prefix = format!("-A {chain} ");
            lines
                .iter()
                .filter(|l| l.starts_with(&prefix))
                .map(|l| l.to_string())
                .collect()
        };
        let wanted_of = |table: &str, chain: &str| -> Vec<String> {
            let prefix = format!("-A {chain} ");
            table_lines(&fixed, table)
                .into_iter()
                .filter(|l| l.starts_with(&prefix))
                .map(str::to_string)
                .collect()
        };
        declares(lines_of("nat"), &self.chain)
            && self.fixed_chains().iter().all(|(table, chain)| {
                let lines = lines_of(table);
                declares(lines, chain) && rules_of(lines, chain) == wanted_of(table, chain)
            })
            && self.jumps().iter().all(|(table, builtin, spec, _)| {
                let line = format!("-A {builtin} {}", spec.join(" "));
                lines_of(table).iter().filter(|l| **l == line).count() == 1
            })
    }

    /// Flush the nat chain and fill it with `mappings`, in one transaction; then make sure each
    /// jump exists exactly once (duplicates left by a crash or an older run are removed).
    pub fn rebuild(&self, mappings: &[Mapping]) -> Result<()> {
        // Usually the chains are in place and the DNAT rules already the right ones (a
        // runtime restarted over its own running containers): one `iptables-save` shows it.
        let save = saved_tables()?;
        let set_up = self.is_set_up(&save);
        if set_up {
            let prefix = format!("-A {} ", self.chain);
            let mut have: Vec<&str> = table_lines(&save, "nat")
                .into_iter()
                .filter(|l| l.starts_with(&prefix))
                .collect();
            let mut want: Vec<String> = mappings
                .iter()
                .map(|m| format!("{prefix}{}", m.rule()))
                .collect();
            have.sort_unstable();
            want.sort_unstable();
            if have == want {
                return Ok(());
            }
        } else {
            self.ensure()?;
        }
        let mut script = format!("*nat\n:{} - [0:0]\n", self.chain);
        for m in mappings {
            script.push_str(&format!("-A {} {}\n", self.chain, m.rule()));
        }
        script.push_str("COMMIT\n");
        restore(&script)?;
        if set_up {
            // Each jump was there exactly once.
            return Ok(());
        }
        for (table, builtin, spec, first) in self.jumps() {
            let spec: Vec<&str> = spec.iter().map(String::as_str).collect();
            let mut copies = 0;
            while rule_exists(table, builtin, &spec)? {
                let mut args = vec!["-t", table, "-D", builtin];
                args.extend_from_slice(&spec);
                iptables(&args)?;
                copies += 1;
            }
            if copies > 0 {
                add_jump(table, builtin, &spec, first)?;
            }
        }
        Ok(())
    }

    /// Add the DNAT rules of `mappings` in one transaction (all or none).
    pub fn add(&self, mappings: &[Mapping]) -> Result<()> {
        if mappings.is_empty() {
            return Ok(());
        }
        let mut script = String::from("*nat\n");
        for m in mappings {
            script.push_str(&format!("-A {} {}\n", self.chain, m.rule()));
        }
        script.push_str("COMMIT\n");
        restore(&script).map_err(|e| e.context("adding port mappings"))
    }

    /// Start removing the DNAT rules of `mappings` in one transaction, without waiting: the
    /// kernel takes a while (an RCU grace period) to finish a deletion, which the caller can
    /// overlap with other work. `None` when there is nothing to remove.
    pub fn start_remove(&self, mappings: &[Mapping]) -> Result<Option<Running>> {
        if mappings.is_empty() {
            return Ok(None);
        }
        let mut script = String::from("*nat\n");
        for m in mappings {
            script.push_str(&format!("-D {} {}\n", self.chain, m.rule()));
        }
        script.push_str("COMMIT\n");
        start("iptables-restore", &["-w", "--noflush"], Some(&script)).map(Some)
    }

    /// Finish what [`Self::start_remove`] started. When the transaction failed (a rule was
    /// already gone), remove the rules one by one, skipping those not there, so removing twice
    /// is harmless.
    pub fn finish_remove(&self, running: Option<Running>, mappings: &[Mapping]) -> Result<()> {
        let Some(running) = running else {
            return Ok(());
        };
        if running.wait().is_ok() {
            return Ok(());
        }
        for m in mappings {
            let rule = m.rule();
            let spec: Vec<&str> = rule.split(' ').collect();
            while rule_exists("nat", &self.chain, &spec)? {
                let mut args = vec!["-t", "nat", "-D", &self.chain];
                args.extend_from_slice(&spec);
                iptables(&args).map_err(|e| e.context("removing a port mapping"))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_up_is_read_from_iptables_save() {
        let t = Iptables::new("DRX", "drx0", "10.9.9.1/24".parse().unwrap()).unwrap();
        let full = "*nat\n:PREROUTING ACCEPT [0:0]\n:DRX - [0:0]\n:DRX-POST - [0:0]\n\
            -A PREROUTING -m addrtype --dst-type LOCAL -j DRX\n\
            -A OUTPUT -m addrtype --dst-type LOCAL -j DRX\n\
            -A POSTROUTING -j DRX-POST\n\
            -A DRX -p tcp -m tcp --dport 49153 -j DNAT --to-destination 10.9.9.2:80\n\
            -A DRX-POST -s 10.9.9.0/24 ! -o drx0 -j MASQUERADE\n\
            -A DRX-POST -s 127.0.0.0/8 -o drx0 -j MASQUERADE\nCOMMIT\n\
            *mangle\n:DRX-ISO - [0:0]\n-A FORWARD -j DRX-ISO\n\
            -A DRX-ISO -i drx0 -o drx0 -j RETURN\n\
            -A DRX-ISO -o drx0 -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN\n\
            -A DRX-ISO -o drx0 -m conntrack --ctstate DNAT -j RETURN\n\
            -A DRX-ISO -o drx0 -j DROP\nCOMMIT\n\
            *filter\n:DRX-FWD - [0:0]\n:DRX-IN - [0:0]\n\
            -A INPUT -j DRX-IN\n-A FORWARD -j DRX-FWD\n\
            -A DRX-FWD -i drx0 -j ACCEPT\n\
            -A DRX-FWD -o drx0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n\
            -A DRX-FWD -o drx0 -m conntrack --ctstate DNAT -j ACCEPT\n\
            -A DRX-IN -d 127.0.0.0/8 -i drx0 -m conntrack ! --ctstate DNAT -j DROP\n\
            COMMIT\n";
        assert!(t.is_set_up(full));
        // Chains left by an older runtime, without the drops, are not set up.
        let open_fwd = full.replace("-A DRX-ISO -o drx0 -j DROP\n", "");
        assert!(!t.is_set_up(&open_fwd));
        let old_fwd = full.replace(
            "-A DRX-FWD -o drx0 -m conntrack --ctstate DNAT -j ACCEPT\n",
            "-A DRX-FWD -o drx0 -m conntrack --ctstate DNAT -j ACCEPT\n-A DRX-FWD -o drx0 -j DROP\n",
        );
        assert!(!t.is_set_up(&old_fwd));
        assert!(!t.is_set_up(&full.replace("-A FORWARD -j DRX-ISO\n", "")));
        let open_lo = full.replace(":DRX-IN - [0:0]\n", "").replace(
            "-A DRX-IN -d 127.0.0.0/8 -i drx0 -m conntrack ! --ctstate DNAT -j DROP\n",
            "",
        );
        assert!(!t.is_set_up(&open_lo));
        assert!(!t.is_set_up(&full.replace("-A INPUT -j DRX-IN\n", "")));
        // The drop must come after the exceptions.
        let reordered = full.replace("-A DRX-ISO -o drx0 -j DROP\n", "").replace(
            "-A DRX-ISO -i drx0 -o drx0 -j RETURN\n",
            "-A DRX-ISO -o drx0 -j DROP\n-A DRX-ISO -i drx0 -o drx0 -j RETURN\n",
        );
        assert!(!t.is_set_up(&reordered));
        let missing_jump = full.replace("-A OUTPUT -m addrtype --dst-type LOCAL -j DRX\n", "");
        assert!(!t.is_set_up(&missing_jump));
        let twice = full.replace(
            "-A POSTROUTING -j DRX-POST\n",
            "-A POSTROUTING -j DRX-POST\n-A POSTROUTING -j DRX-POST\n",
        );
        assert!(!t.is_set_up(&twice));
        let extra = full.replace(
            "-A DRX-FWD -i drx0 -j ACCEPT\n",
            "-A DRX-FWD -i drx0 -j ACCEPT\n-A DRX-FWD -j DROP\n",
        );
        assert!(!t.is_set_up(&extra));
        assert!(!t.is_set_up(&full.replace(":DRX - [0:0]\n", "")));
        assert!(!t.is_set_up(""));
    }

    #[test]
    fn rules_and_chain_names() {
        let t = Iptables::new("DOCKER", "lxcbr0", "10.0.3.1/24".parse().unwrap()).unwrap();
        assert_eq!(t.post_chain(), "DOCKER-POST");
        assert_eq!(t.forward_chain(), "DOCKER-FWD");
        assert_eq!(t.input_chain(), "DOCKER-IN");
        assert_eq!(t.isolation_chain(), "DOCKER-ISO");
        let m = Mapping {
            public: 49153,
            ip: Ipv4Addr::new(10, 0, 3, 2),
            private: 80,
        };
        assert_eq!(
            m.rule(),
            "-p tcp -m tcp --dport 49153 -j DNAT --to-destination 10.0.3.2:80"
        );
        let fixed = t.fixed_rules();
        assert!(fixed.contains("-A DOCKER-POST -s 10.0.3.0/24 ! -o lxcbr0 -j MASQUERADE"));
        assert!(fixed.contains("-A DOCKER-POST -s 127.0.0.0/8 -o lxcbr0 -j MASQUERADE"));
        assert!(fixed.contains("-A DOCKER-ISO -o lxcbr0 -j DROP"));
        assert!(!fixed.contains("-A DOCKER-FWD -o lxcbr0 -j DROP"));
        assert!(fixed.contains(
            "-A DOCKER-IN -d 127.0.0.0/8 -i lxcbr0 -m conntrack ! --ctstate DNAT -j DROP"
        ));
        assert!(Iptables::new(&"X".repeat(24), "b", "10.0.3.1/24".parse().unwrap()).is_err());
        assert!(Iptables::new("", "b", "10.0.3.1/24".parse().unwrap()).is_err());
    }
}
