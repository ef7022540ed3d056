//! `version`, `info` (`help` is the command table's own, in `mod.rs`).

use super::flags::{no_args, Flags};
use super::streams::Streams;
use crate::error::Result;
use crate::runtime::Runtime;

/// The library's version, from Cargo.toml.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

pub fn version(_rt: &Runtime, io: &mut Streams, args: &[String]) -> Result<i32> {
    let f = Flags::new("version", "", "Show the docker version information");
    let Some(p) = f.parse(args, &mut io.stdout)? else {
        return Ok(0);
    };
    no_args(&f, &p.args)?;
    io.out(&format!("Version: {VERSION}\n"))?;
    Ok(0)
}

pub fn info(rt: &Runtime, io: &mut Streams, args: &[String]) -> Result<i32> {
    let f = Flags::new("info", "", "Display system-wide information");
    let Some(p) = f.parse(args, &mut io.stdout)? else {
        return Ok(0);
    };
    no_args(&f, &p.args)?;
    io.out(&format!(
        "containers: {}\nversion: {VERSION}\nimages: {}\n",
        rt.container_count(),
        rt.image_count()?
    ))?;
    Ok(0)
}
