//! `volume create|ls|rm|inspect|prune`, as docker has them (see [`crate::volume`]).

use std::io::{Read, Write};

use super::flags::Flags;
use super::streams::{Streams, ERROR_STATUS};
use crate::error::{Error, Result};
use crate::humanize;
use crate::runtime::Runtime;
use crate::summary;
use crate::table;

const SUBCOMMANDS: &str = "create, inspect, ls, prune or rm";

/// docker's question before a prune (docker 20.10's words).
const PRUNE_WARNING: &str = "WARNING! This will remove all local volumes not used by at least one container.\nAre you sure you want to continue? [y/N] ";

/// `volume COMMAND ...`.
pub fn volume(rt: &Runtime, io: &mut Streams, args: &[String]) -> Result<i32> {
    let f = Flags::new(
        "volume",
        "COMMAND",
        "Manage volumes (create, inspect, ls, prune, rm)",
    );
    match args.split_first() {
        Some((sub, rest)) if sub == "create" => create(rt, io, rest),
        Some((sub, rest)) if sub == "ls" || sub == "list" => ls(rt, io, rest),
        Some((sub, rest)) if sub == "rm" || sub == "remove" => rm(rt, io, rest),
        Some((sub, rest)) if sub == "inspect" => inspect(rt, io, rest),
        Some((sub, rest)) if sub == "prune" => prune(rt, io, rest),
        Some((sub, _)) if !sub.starts_with('-') => Err(f.usage_error(&format!(
            "unknown volume command {sub:?}: use {SUBCOMMANDS}"
        ))),
        _ => match f.parse(args, &mut io.stdout)? {
            None => Ok(0),
            Some(_) => Err(f.usage_error(&format!("volume needs a command: {SUBCOMMANDS}"))),
        },
    }
}

fn create(rt: &Runtime, io: &mut Streams, args: &[String]) -> Result<i32> {
    let mut f = Flags::new(
        "volume create",
        "[OPTIONS] [NAME]",
        "Create a volume (no name: a generated one)",
    );
    let label = f.list(&["label"], "KEY=VALUE", "Set metadata for a volume");
    let Some(p) = f.parse(args, &mut io.stdout)? else {
        return Ok(0);
    };
    if p.args.len() > 1 {
        return Err(f.usage_error("at most 1 argument expected"));
    }
    let labels = crate::volume::labels(p.list(label))?;
    let v = rt.create_volume(p.args.first().map(String::as_str), labels)?;
    io.out(&format!("{}\n", v.name))?;
    Ok(0)
}

fn ls(rt: &Runtime, io: &mut Streams, args: &[String]) -> Result<i32> {
    let mut f = Flags::new("volume ls", "[OPTIONS]", "List volumes");
    let quiet = f.bool(&["q", "quiet"], "Only display volume names");
    let Some(p) = f.parse(args, &mut io.stdout)? else {
        return Ok(0);
    };
    if !p.args.is_empty() {
        return Err(f.usage_error("no arguments expected"));
    }
    let volumes = rt.volumes()?;
    if p.bool(quiet) {
        let names: String = volumes.iter().map(|v| format!("{}\n", v.name)).collect();
        io.out(&names)?;
        return Ok(0);
    }
    let mut rows = vec![vec!["DRIVER".to_string(), "VOLUME NAME".to_string()]];
    rows.extend(
        volumes
            .into_iter()
            .map(|v| vec![v.driver.to_string(), v.name]),
    );
    io.out(&table::render_min(&rows, 10))?;
    Ok(0)
}

fn rm(rt: &Runtime, io: &mut Streams, args: &[String]) -> Result<i32> {
    let f = Flags::new(
        "volume rm",
        "VOLUME [VOLUME...]",
        "Remove volumes (refused while a container uses one)",
    );
    let Some(p) = f.parse(args, &mut io.stdout)? else {
        return Ok(0);
    };
    if p.args.is_empty() {
        return Err(f.usage_error("1 argument(s) expected"));
    }
    let mut status = 0;
    for name in &p.args {
        match rt.remove_volume(name) {
            Ok(()) => io.out(&format!("{name}\n"))?,
            Err(e) => {
                io.err(&format!("Error: {e}\n"))?;
                status = ERROR_STATUS;
            }
        }
    }
    Ok(status)
}

fn inspect(rt: &Runtime, io: &mut Streams, args: &[String]) -> Result<i32> {
    let f = Flags::new(
        "volume inspect",
        "VOLUME [VOLUME...]",
        "Display detailed information on volumes",
    );
    let Some(p) = f.parse(args, &mut io.stdout)? else {
        return Ok(0);
    };
    if p.args.is_empty() {
        return Err(f.usage_error("1 argument(s) expected"));
    }
    let volumes = p
        .args
        .iter()
        .map(|n| rt.volume(n))
        .collect::<Result<Vec<_>>>()?;
    io.out(&format!("{}\n", summary::pretty_json(&volumes)?))?;
    Ok(0)
}

/// Ask `question` on stdout and read one line of stdin (byte by byte: nothing after it is
/// consumed), as docker's `PromptForConfirmation`: only `y` or `Y` is a yes; the end of
/// input is a no.
fn confirm(io: &mut Streams, question: &str) -> Result<bool> {
    io.out(question)?;
    io.stdout
        .flush()
        .map_err(|e| Error::io("writing to stdout", e))?;
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        match (&io.stdin).read(&mut byte) {
            Ok(0) => break,
            Ok(_) if byte[0] == b'\n' => break,
            Ok(_) => line.push(byte[0]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io("reading the answer from stdin", e)),
        }
    }
    let answer = String::from_utf8_lossy(&line);
    Ok(answer.trim_end_matches('\r').eq_ignore_ascii_case("y"))
}

/// `volume prune [-f]`: remove every volume no container uses (after a confirmation,
/// unless `-f`), printing what went and the space it held, as docker does.
fn prune(rt: &Runtime, io: &mut Streams, args: &[String]) -> Result<i32> {
    let mut f = Flags::new(
        "volume prune",
        "[OPTIONS]",
        "Remove all unused local volumes (named and anonymous, as docker 20.10)",
    );
    let force = f.bool(&["f", "force"], "Do not prompt for confirmation");
    let Some(p) = f.parse(args, &mut io.stdout)? else {
        return Ok(0);
    };
    if !p.args.is_empty() {
        return Err(f.usage_error("no arguments expected"));
    }
    if !p.bool(force) && !confirm(io, PRUNE_WARNING)? {
        io.out("Total reclaimed space: 0B\n")?;
        return Ok(0);
    }
    let removed = rt.prune_volumes()?;
    let mut text = String::new();
    if !removed.is_empty() {
        text.push_str("Deleted Volumes:\n");
        for (name, _) in &removed {
            text.push_str(&format!("{name}\n"));
        }
        text.push('\n');
    }
    let total = removed.iter().map(|(_, size)| size).sum();
    text.push_str(&format!(
        "Total reclaimed space: {}\n",
        humanize::bytes_human(total)
    ));
    io.out(&text)?;
    Ok(0)
}
