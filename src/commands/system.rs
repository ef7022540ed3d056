//! `help`, `version`, `info`.

use super::flags::Flags;
use super::{Streams, COMMANDS};
use crate::error::Result;
use crate::runtime::Runtime;

/// The library's version, from Cargo.toml.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// v0.1.0's help: the usage line and the command list.
pub fn help(_rt: &Runtime, io: &mut Streams, _args: &[String]) -> Result<i32> {
    let mut s = String::from(
        "Usage: docker COMMAND [arg...]\n\nA self-sufficient runtime for linux containers.\n\nCommands:\n",
    );
    for c in COMMANDS {
        s.push_str(&format!("    {:<10}{}\n", c.name, c.description));
    }
    io.out(&s)?;
    Ok(0)
}

pub fn version(_rt: &Runtime, io: &mut Streams, args: &[String]) -> Result<i32> {
    let f = Flags::new("version", "", "Show the docker version information");
    let Some(p) = f.parse(args, &mut io.stdout)? else {
        return Ok(0);
    };
    super::no_args(&f, &p.args)?;
    io.out(&format!("Version: {VERSION}\n"))?;
    Ok(0)
}

pub fn info(rt: &Runtime, io: &mut Streams, args: &[String]) -> Result<i32> {
    let f = Flags::new("info", "", "Display system-wide information");
    let Some(p) = f.parse(args, &mut io.stdout)? else {
        return Ok(0);
    };
    super::no_args(&f, &p.args)?;
    io.out(&format!(
        "containers: {}\nversion: {VERSION}\nimages: {}\n",
        rt.container_count(),
        rt.image_count()?
    ))?;
    Ok(0)
}
