//! The command line of `docker-runtime-oci`, as containerd's runc shim (go-runc) writes it:
//! global options, then a command with its options, then its arguments. Options are read up to
//! the first argument (as runc's parser does), so `exec ID sh -c ...` keeps its command's own
//! flags; `--flag value` and `--flag=value` both work, and one leading dash as well as two.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::error::{Error, Result};

/// Where state lives unless `--root` says otherwise (runc: `/run/runc`).
pub const DEFAULT_ROOT: &str = "/run/docker-runtime-oci";

/// How errors are written to the `--log` file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// The options before the command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Globals {
    pub root: PathBuf,
    pub log: Option<PathBuf>,
    pub log_format: LogFormat,
    pub debug: bool,
    pub systemd_cgroup: bool,
}

/// One option a command takes: its names (the first is the one it is known by), whether it
/// takes a value, and whether it may be given more than once (each value kept).
struct Opt {
    names: &'static [&'static str],
    value: bool,
    repeated: bool,
}

const fn flag(names: &'static [&'static str]) -> Opt {
    Opt {
        names,
        value: false,
        repeated: false,
    }
}

const fn valued(names: &'static [&'static str]) -> Opt {
    Opt {
        names,
        value: true,
        repeated: false,
    }
}

const fn repeated(names: &'static [&'static str]) -> Opt {
    Opt {
        names,
        value: true,
        repeated: true,
    }
}

const GLOBAL: &[Opt] = &[
    valued(&["root"]),
    valued(&["log"]),
    valued(&["log-format"]),
    flag(&["debug"]),
    flag(&["systemd-cgroup"]),
    valued(&["rootless"]),
    valued(&["criu"]),
    flag(&["version", "v"]),
    flag(&["help", "h"]),
];

const CREATE: &[Opt] = &[
    valued(&["bundle", "b"]),
    valued(&["pid-file"]),
    valued(&["console-socket"]),
    flag(&["no-pivot"]),
    flag(&["no-new-keyring"]),
    valued(&["preserve-fds"]),
    flag(&["detach", "d"]),
];

const EXEC: &[Opt] = &[
    valued(&["process", "p"]),
    flag(&["detach", "d"]),
    valued(&["pid-file"]),
    valued(&["console-socket"]),
    flag(&["tty", "t"]),
    valued(&["cwd"]),
    repeated(&["env", "e"]),
    valued(&["user", "u"]),
    repeated(&["additional-gids", "g"]),
    repeated(&["cap", "c"]),
    flag(&["no-new-privs"]),
    valued(&["preserve-fds"]),
];

/// runc's `update` flags (those this runtime executes).
const UPDATE: &[Opt] = &[
    valued(&["resources", "r"]),
    valued(&["memory"]),
    valued(&["memory-reservation"]),
    valued(&["memory-swap"]),
    valued(&["cpu-share", "cpu-shares"]),
    valued(&["cpu-quota"]),
    valued(&["cpu-period"]),
    valued(&["cpuset-cpus"]),
    valued(&["cpuset-mems"]),
    valued(&["pids-limit"]),
    valued(&["blkio-weight"]),
];

/// The commands, their options, and how many arguments each takes (least, most).
const COMMANDS: &[(&str, &[Opt], usize, usize)] = &[
    ("create", CREATE, 1, 1),
    ("run", CREATE, 1, 1),
    ("start", &[], 1, 1),
    ("state", &[], 1, 1),
    ("kill", &[flag(&["all", "a"])], 1, 2),
    ("delete", &[flag(&["force", "f"])], 1, 1),
    ("exec", EXEC, 1, usize::MAX),
    ("ps", &[valued(&["format", "f"])], 1, usize::MAX),
    ("pause", &[], 1, 1),
    ("resume", &[], 1, 1),
    ("update", UPDATE, 1, 1),
    ("features", &[], 0, 0),
    (
        "list",
        &[valued(&["format", "f"]), flag(&["quiet", "q"])],
        0,
        0,
    ),
    (
        "spec",
        &[valued(&["bundle", "b"]), flag(&["rootless"])],
        0,
        0,
    ),
];

/// A command line read: the command, its options by their first name (a flag's value is
/// empty; an option given more than once has each value, in order), and its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    pub globals: Globals,
    /// `None` with `--version` or `--help` and no command.
    pub command: Option<String>,
    pub options: BTreeMap<&'static str, Vec<String>>,
    pub args: Vec<String>,
    pub version: bool,
    pub help: bool,
}

impl Invocation {
    pub fn flag(&self, name: &str) -> bool {
        self.options.contains_key(name)
    }

    /// The value of an option (the last one given).
    pub fn value(&self, name: &str) -> Option<&str> {
        self.values(name).last().map(String::as_str)
    }

    /// Every value of an option, in the order given.
    pub fn values(&self, name: &str) -> &[String] {
        self.options.get(name).map_or(&[], Vec::as_slice)
    }
}

/// Read options from `args[*at..]` until the first argument (or `--`), into `out`.
fn read_options(
    what: &str,
    table: &[Opt],
    args: &[String],
    at: &mut usize,
    out: &mut BTreeMap<&'static str, Vec<String>>,
) -> Result<()> {
    while let Some(arg) = args.get(*at) {
        if arg == "--" {
            *at += 1;
            return Ok(());
        }
        let Some(body) = arg.strip_prefix("--").or_else(|| arg.strip_prefix('-')) else {
            return Ok(());
        };
        if body.is_empty() {
            return Ok(());
        }
        let (name, inline) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (body, None),
        };
        let opt = table
            .iter()
            .find(|o| o.names.contains(&name))
            .ok_or_else(|| Error::invalid(format!("{what}: unknown option --{name}")))?;
        *at += 1;
        let value = match (opt.value, inline) {
            (true, Some(v)) => v,
            (true, None) => {
                let v = args
                    .get(*at)
                    .ok_or_else(|| Error::invalid(format!("{what}: --{name} needs a value")))?;
                *at += 1;
                v.clone()
            }
            (false, None) => String::new(),
            (false, Some(v)) if v == "true" => String::new(),
            (false, Some(v)) if v == "false" => continue,
            (false, Some(v)) => {
                return Err(Error::invalid(format!(
                    "{what}: --{name} takes no value (got {v:?})"
                )))
            }
        };
        let values = out.entry(opt.names[0]).or_default();
        if !opt.repeated {
            values.clear();
        }
        values.push(value);
    }
    Ok(())
}

fn globals(options: &BTreeMap<&'static str, Vec<String>>) -> Result<Globals> {
    let value = |name: &str| options.get(name).and_then(|v| v.last()).map(String::as_str);
    let log_format = match value("log-format") {
        None | Some("text") => LogFormat::Text,
        Some("json") => LogFormat::Json,
        Some(other) => {
            return Err(Error::invalid(format!(
                "invalid --log-format {other:?}: want text or json"
            )))
        }
    };
    match value("rootless") {
        None | Some("false") | Some("auto") => {}
        Some("true") => {
            return Err(Error::unsupported(
                "rootless containers are not supported (--rootless=true)",
            ))
        }
        Some(other) => {
            return Err(Error::invalid(format!(
                "invalid --rootless {other:?}: want true, false or auto"
            )))
        }
    }
    if options.contains_key("criu") {
        return Err(Error::unsupported(
            "checkpoint and restore (--criu) are not supported",
        ));
    }
    Ok(Globals {
        root: PathBuf::from(value("root").unwrap_or(DEFAULT_ROOT)),
        log: value("log").map(PathBuf::from),
        log_format,
        debug: options.contains_key("debug"),
        systemd_cgroup: options.contains_key("systemd-cgroup"),
    })
}

/// Read a whole command line (without the program's name).
pub fn parse(args: &[String]) -> Result<Invocation> {
    let mut at = 0;
    let mut global = BTreeMap::new();
    read_options("docker-runtime-oci", GLOBAL, args, &mut at, &mut global)?;
    let globals = globals(&global)?;
    let (version, help) = (global.contains_key("version"), global.contains_key("help"));
    let Some(name) = args.get(at) else {
        if version || help {
            return Ok(Invocation {
                globals,
                command: None,
                options: BTreeMap::new(),
                args: Vec::new(),
                version,
                help,
            });
        }
        return Err(Error::invalid("no command given (see --help)"));
    };
    at += 1;
    let (_, table, least, most) = COMMANDS
        .iter()
        .find(|(n, ..)| n == name)
        .ok_or_else(|| Error::invalid(format!("unknown command {name:?} (see --help)")))?;
    let mut options = BTreeMap::new();
    read_options(name, table, args, &mut at, &mut options)?;
    let rest = args[at..].to_vec();
    if rest.len() < *least || rest.len() > *most {
        let want = match (*least, *most) {
            (0, 0) => "no arguments".to_string(),
            (1, 1) => "a container id".to_string(),
            (l, usize::MAX) => format!("at least {l} argument(s)"),
            (l, m) => format!("{l} to {m} arguments"),
        };
        return Err(Error::invalid(format!(
            "{name}: wants {want}, got {}",
            rest.len()
        )));
    }
    Ok(Invocation {
        globals,
        command: Some(name.clone()),
        options,
        args: rest,
        version,
        help,
    })
}

/// The `--help` text.
pub const USAGE: &str = "\
Usage: docker-runtime-oci [GLOBAL OPTIONS] COMMAND [OPTIONS] ARGS...

An OCI runtime (runc's command line) over docker-runtime's container engine.

Global options:
  --root DIR              state folder (default /run/docker-runtime-oci)
  --log FILE              append errors to FILE
  --log-format text|json  how errors are written to --log (default text)
  --debug                 also log debug messages
  --systemd-cgroup        cgroupsPath is slice:prefix:name (refused: not supported)
  -v, --version           print the version
";

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(line: &str) -> Result<Invocation> {
        let args: Vec<String> = line.split_whitespace().map(str::to_string).collect();
        parse(&args)
    }

    #[test]
    fn containerds_create_line() {
        let i = parse_str(
            "--root /run/c/runc/default --log /b/log.json --log-format json create \
             --bundle /b --pid-file /b/init.pid --console-socket /tmp/s.sock ctr1",
        )
        .unwrap();
        assert_eq!(i.globals.root, PathBuf::from("/run/c/runc/default"));
        assert_eq!(i.globals.log, Some(PathBuf::from("/b/log.json")));
        assert_eq!(i.globals.log_format, LogFormat::Json);
        assert_eq!(i.command.as_deref(), Some("create"));
        assert_eq!(i.value("bundle"), Some("/b"));
        assert_eq!(i.value("pid-file"), Some("/b/init.pid"));
        assert_eq!(i.value("console-socket"), Some("/tmp/s.sock"));
        assert_eq!(i.args, ["ctr1"]);
        let i = parse_str("create -b=/b --no-pivot --detach=false x").unwrap();
        assert_eq!(i.value("bundle"), Some("/b"));
        assert!(i.flag("no-pivot") && !i.flag("detach"));
        assert_eq!(i.globals.root, PathBuf::from(DEFAULT_ROOT));
    }

    #[test]
    fn options_stop_at_the_first_argument() {
        let i = parse_str("exec --detach ctr1 sh -c --version").unwrap();
        assert!(i.flag("detach"));
        assert_eq!(i.args, ["ctr1", "sh", "-c", "--version"]);
        let i = parse_str("kill --all ctr1 KILL").unwrap();
        assert!(i.flag("all"));
        assert_eq!(i.args, ["ctr1", "KILL"]);
        let i = parse_str("--version").unwrap();
        assert!(i.version && i.command.is_none());
    }

    #[test]
    fn bad_lines_are_clear_errors() {
        for (line, want) in [
            ("", "no command"),
            ("frobnicate x", "unknown command \"frobnicate\""),
            ("create --bundle", "--bundle needs a value"),
            ("create --frob x", "create: unknown option --frob"),
            ("start", "wants a container id, got 0"),
            ("start a b", "wants a container id, got 2"),
            ("kill a b c", "1 to 2 arguments"),
            ("--log-format xml state a", "invalid --log-format"),
            ("--rootless=true state a", "rootless"),
            ("--criu /x state a", "--criu"),
            ("delete --force=yes a", "takes no value"),
        ] {
            let e = parse_str(line).unwrap_err();
            assert!(e.to_string().contains(want), "{line:?}: {e}");
        }
    }
}
