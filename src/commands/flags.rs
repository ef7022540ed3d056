//! Command-line flags in the style of v0.1.0 (Go's `flag` package: `-notrunc`, `-m 512`,
//! `-e K=V -e K2=V2`), plus what later docker users type: `--no-trunc`, `--flag=value`, and
//! single-letter switches run together (`-it`). Parsing stops at the first argument that is not
//! a flag (so `run IMAGE CMD -x` keeps `-x` for CMD) or after `--`. `-h`/`--help` prints the
//! usage and tells the caller to stop.

use std::cell::RefCell;
use std::io::Write;

use crate::error::{Error, Result};

/// One flag of a command as [`describe`] reports it: its names (without dashes) and whether
/// it takes a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlagInfo {
    pub names: &'static [&'static str],
    pub takes_value: bool,
}

thread_local! {
    /// Set while [`describe`] runs a command: its parse records the flags here and stops it.
    static DESCRIBING: RefCell<Option<Vec<FlagInfo>>> = const { RefCell::new(None) };
}

/// The flags a command declares: `run` runs its handler, whose parse (every handler parses
/// before it does anything) records them and stops it as `--help` does, printing nothing.
pub fn describe(run: impl FnOnce()) -> Vec<FlagInfo> {
    DESCRIBING.with(|d| *d.borrow_mut() = Some(Vec::new()));
    run();
    DESCRIBING
        .with(|d| d.borrow_mut().take())
        .unwrap_or_default()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Bool,
    Value,
    List,
}

#[derive(Debug)]
struct Spec {
    names: &'static [&'static str],
    kind: Kind,
    /// A switch's value when it is not given.
    default: bool,
    value_name: &'static str,
    help: &'static str,
}

/// A flag's handle, returned when it is declared and used to read it after parsing.
#[derive(Debug, Clone, Copy)]
pub struct Flag(usize);

/// The flags of one command and its usage text.
#[derive(Debug)]
pub struct Flags {
    command: &'static str,
    synopsis: &'static str,
    description: &'static str,
    specs: Vec<Spec>,
}

/// The result of parsing: flag values and the remaining arguments.
#[derive(Debug)]
pub struct Parsed {
    values: Vec<Vec<String>>,
    bools: Vec<bool>,
    pub args: Vec<String>,
}

impl Flags {
    /// `synopsis` follows the command name in the usage line (`[OPTIONS] IMAGE [COMMAND]`).
    pub fn new(command: &'static str, synopsis: &'static str, description: &'static str) -> Self {
        Flags {
            command,
            synopsis,
            description,
            specs: Vec::new(),
        }
    }

    fn add(
        &mut self,
        names: &'static [&'static str],
        kind: Kind,
        value_name: &'static str,
        help: &'static str,
    ) -> Flag {
        self.specs.push(Spec {
            names,
            kind,
            default: false,
            value_name,
            help,
        });
        Flag(self.specs.len() - 1)
    }

    /// A switch: present means true.
    pub fn bool(&mut self, names: &'static [&'static str], help: &'static str) -> Flag {
        self.add(names, Kind::Bool, "", help)
    }

    /// A switch that is on unless given as `--NAME=false` (or `=0`), as docker's
    /// `commit --pause`.
    pub fn bool_on(&mut self, names: &'static [&'static str], help: &'static str) -> Flag {
        let f = self.add(names, Kind::Bool, "", help);
        self.specs[f.0].default = true;
        f
    }

    /// A flag taking one value; given twice, the last wins.
    pub fn value(
        &mut self,
        names: &'static [&'static str],
        value_name: &'static str,
        help: &'static str,
    ) -> Flag {
        self.add(names, Kind::Value, value_name, help)
    }

    /// A flag that may be given many times, each adding a value.
    pub fn list(
        &mut self,
        names: &'static [&'static str],
        value_name: &'static str,
        help: &'static str,
    ) -> Flag {
        self.add(names, Kind::List, value_name, help)
    }

    /// The usage text: `Usage: docker CMD SYNOPSIS`, the description, then each flag.
    pub fn usage(&self) -> String {
        let mut s = format!(
            "Usage: docker {} {}\n\n{}\n",
            self.command, self.synopsis, self.description
        );
        if !self.specs.is_empty() {
            s.push('\n');
        }
        for spec in &self.specs {
            let names: Vec<String> = spec
                .names
                .iter()
                .map(|n| {
                    if n.len() == 1 {
                        format!("-{n}")
                    } else {
                        format!("--{n}")
                    }
                })
                .collect();
            let mut left = names.join(", ");
            if spec.kind != Kind::Bool {
                left.push(' ');
                left.push_str(spec.value_name);
            }
            let default = if spec.default { " (default true)" } else { "" };
            s.push_str(&format!("  {left:<24} {}{default}\n", spec.help));
        }
        s
    }

    fn find(&self, name: &str) -> Option<usize> {
        self.specs.iter().position(|s| s.names.contains(&name))
    }

    fn error(&self, msg: String) -> Error {
        Error::usage(format!("{msg}\nSee 'docker {} --help'.", self.command))
    }

    /// A usage error: `msg`, then the command's usage.
    pub fn usage_error(&self, msg: &str) -> Error {
        Error::usage(format!("{msg}\n{}", self.usage().trim_end()))
    }

    /// Parse `args`. `Ok(None)` means help was asked for and printed to `out`.
    pub fn parse(&self, args: &[String], out: &mut dyn Write) -> Result<Option<Parsed>> {
        let described = DESCRIBING.with(|d| match d.borrow_mut().as_mut() {
            Some(flags) => {
                flags.extend(self.specs.iter().map(|s| FlagInfo {
                    names: s.names,
                    takes_value: s.kind != Kind::Bool,
                }));
                true
            }
            None => false,
        });
        if described {
            return Ok(None);
        }
        let mut p = Parsed {
            values: vec![Vec::new(); self.specs.len()],
            bools: self.specs.iter().map(|s| s.default).collect(),
            args: Vec::new(),
        };
        let mut i = 0;
        while i < args.len() {
            let arg = &args[i];
            if arg == "--" {
                i += 1;
                break;
            }
            if !arg.starts_with('-') || arg == "-" {
                break;
            }
            i += 1;
            let body = arg.strip_prefix("--").unwrap_or(&arg[1..]);
            let (name, inline) = match body.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (body, None),
            };
            // -h asks for help unless the command has a flag of that name (`run -h HOST`).
            if (name == "h" && self.find("h").is_none()) || name == "help" {
                out.write_all(self.usage().as_bytes())
                    .map_err(|e| Error::io("writing usage", e))?;
                return Ok(None);
            }
            let single_dash = !arg.starts_with("--");
            match self.find(name) {
                Some(k) => {
                    self.set(&mut p, k, arg, inline, args, &mut i)?;
                }
                None if single_dash && name.len() > 1 && inline.is_none() => {
                    // Switches run together: every letter a flag, only the last may take a value.
                    let letters: Vec<char> = name.chars().collect();
                    for (j, c) in letters.iter().enumerate() {
                        let letter = c.to_string();
                        let k = self
                            .find(&letter)
                            .ok_or_else(|| self.error(format!("unknown flag: {arg}")))?;
                        if self.specs[k].kind != Kind::Bool && j + 1 != letters.len() {
                            return Err(self.error(format!(
                                "flag -{letter} in {arg} needs a value and must come last"
                            )));
                        }
                        self.set(&mut p, k, arg, None, args, &mut i)?;
                    }
                }
                None => return Err(self.error(format!("unknown flag: {arg}"))),
            }
        }
        p.args = args[i..].to_vec();
        Ok(Some(p))
    }

    fn set(
        &self,
        p: &mut Parsed,
        k: usize,
        arg: &str,
        inline: Option<String>,
        args: &[String],
        i: &mut usize,
    ) -> Result<()> {
        let spec = &self.specs[k];
        match spec.kind {
            Kind::Bool => {
                p.bools[k] = match inline.as_deref() {
                    None | Some("true") | Some("1") => true,
                    Some("false") | Some("0") => false,
                    Some(v) => {
                        return Err(self.error(format!("invalid value {v:?} for switch {arg}")))
                    }
                };
            }
            Kind::Value | Kind::List => {
                let v = match inline {
                    Some(v) => v,
                    None => {
                        let v = args
                            .get(*i)
                            .cloned()
                            .ok_or_else(|| self.error(format!("flag needs an argument: {arg}")))?;
                        *i += 1;
                        v
                    }
                };
                if spec.kind == Kind::Value {
                    p.values[k] = vec![v];
                } else {
                    p.values[k].push(v);
                }
            }
        }
        Ok(())
    }
}

impl Parsed {
    pub fn bool(&self, f: Flag) -> bool {
        self.bools[f.0]
    }

    pub fn value(&self, f: Flag) -> Option<&str> {
        self.values[f.0].last().map(String::as_str)
    }

    pub fn list(&self, f: Flag) -> &[String] {
        &self.values[f.0]
    }
}

/// Refuse positional arguments for a command that takes none.
pub fn no_args(f: &Flags, args: &[String]) -> Result<()> {
    if args.is_empty() {
        Ok(())
    } else {
        Err(f.usage_error(&format!("unexpected argument {:?}", args[0])))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    fn run_flags() -> (Flags, Flag, Flag, Flag, Flag, Flag) {
        let mut f = Flags::new("run", "[OPTIONS] IMAGE COMMAND", "Run a command");
        let i = f.bool(&["i"], "keep stdin open");
        let t = f.bool(&["t"], "allocate a tty");
        let m = f.value(&["m"], "BYTES", "memory limit");
        let e = f.list(&["e"], "K=V", "environment");
        let nt = f.bool(&["notrunc", "no-trunc"], "no truncation");
        (f, i, t, m, e, nt)
    }

    #[test]
    fn go_style_and_modern_forms() {
        let (f, i, t, m, e, nt) = run_flags();
        let mut out = Vec::new();
        let p = f
            .parse(
                &args("-it -m 512 -e A=1 --e=B=2 --no-trunc busybox ls -l"),
                &mut out,
            )
            .unwrap()
            .unwrap();
        assert!(p.bool(i) && p.bool(t) && p.bool(nt));
        assert_eq!(p.value(m), Some("512"));
        assert_eq!(p.list(e), &["A=1".to_string(), "B=2".to_string()]);
        assert_eq!(p.args, args("busybox ls -l"));
        let p = f
            .parse(&args("-notrunc -m=1k -- -x"), &mut out)
            .unwrap()
            .unwrap();
        assert!(p.bool(nt));
        assert_eq!(p.value(m), Some("1k"));
        assert_eq!(p.args, args("-x"));
    }

    #[test]
    fn errors_and_help() {
        let (f, ..) = run_flags();
        let mut out = Vec::new();
        let e = f.parse(&args("-x busybox"), &mut out).unwrap_err();
        assert!(e.message().contains("unknown flag: -x"));
        assert!(e.message().contains("docker run --help"));
        let e = f.parse(&args("-m"), &mut out).unwrap_err();
        assert!(e.message().contains("flag needs an argument: -m"));
        assert!(f.parse(&args("-mi 5"), &mut out).is_err());
        assert!(f.parse(&args("--help"), &mut out).unwrap().is_none());
        let usage = String::from_utf8(out).unwrap();
        assert!(usage.starts_with("Usage: docker run [OPTIONS] IMAGE COMMAND"));
        assert!(usage.contains("--notrunc, --no-trunc"));
    }

    #[test]
    fn a_switch_on_by_default_is_turned_off_with_false() {
        let mut f = Flags::new("commit", "[OPTIONS] CONTAINER", "Commit");
        let pause = f.bool_on(&["p", "pause"], "Pause the container during commit");
        let mut out = Vec::new();
        for (line, on) in [
            ("c1", true),
            ("--pause c1", true),
            ("--pause=true c1", true),
            ("--pause=false c1", false),
            ("-p=false c1", false),
            ("-pause=0 c1", false),
        ] {
            let p = f.parse(&args(line), &mut out).unwrap().unwrap();
            assert_eq!(p.bool(pause), on, "{line}");
            assert_eq!(p.args, args("c1"), "{line}");
        }
        let e = f.parse(&args("--pause=maybe c1"), &mut out).unwrap_err();
        assert!(e.message().contains("invalid value \"maybe\""), "{e}");
        assert!(f
            .usage()
            .contains("Pause the container during commit (default true)"));
    }
}
