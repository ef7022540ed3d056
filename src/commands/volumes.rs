//! `volume create|ls|rm|inspect`, as docker has them (see [`crate::volume`]).

use super::flags::Flags;
use super::streams::{Streams, ERROR_STATUS};
use crate::error::Result;
use crate::runtime::Runtime;
use crate::summary;
use crate::table;

const SUBCOMMANDS: &str = "create, inspect, ls or rm";

/// `volume COMMAND ...`.
pub fn volume(rt: &Runtime, io: &mut Streams, args: &[String]) -> Result<i32> {
    let f = Flags::new(
        "volume",
        "COMMAND",
        "Manage volumes (create, inspect, ls, rm)",
    );
    match args.split_first() {
        Some((sub, rest)) if sub == "create" => create(rt, io, rest),
        Some((sub, rest)) if sub == "ls" || sub == "list" => ls(rt, io, rest),
        Some((sub, rest)) if sub == "rm" || sub == "remove" => rm(rt, io, rest),
        Some((sub, rest)) if sub == "inspect" => inspect(rt, io, rest),
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
    let f = Flags::new(
        "volume create",
        "[NAME]",
        "Create a volume (no name: a generated one)",
    );
    let Some(p) = f.parse(args, &mut io.stdout)? else {
        return Ok(0);
    };
    if p.args.len() > 1 {
        return Err(f.usage_error("at most 1 argument expected"));
    }
    let v = rt.create_volume(p.args.first().map(String::as_str))?;
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
