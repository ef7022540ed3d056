//! `rename OLD NEW`: a container's new name, with `run --name`'s rules and conflict.

use super::flags::Flags;
use super::streams::Streams;
use crate::error::Result;
use crate::runtime::Runtime;

pub fn rename(rt: &Runtime, io: &mut Streams, args: &[String]) -> Result<i32> {
    let f = Flags::new("rename", "CONTAINER NEW_NAME", "Rename a container");
    let Some(p) = f.parse(args, &mut io.stdout)? else {
        return Ok(0);
    };
    if p.args.len() != 2 {
        return Err(f.usage_error("2 arguments expected: the container and its new name"));
    }
    let c = rt.container(&p.args[0])?;
    rt.rename_container(&c, &p.args[1])?;
    Ok(0)
}
