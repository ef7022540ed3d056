//! The registry commands: `pull`, `push`, `login` (Docker Registry HTTP API v2).

use std::io::{Read, Write};
use std::os::fd::AsFd;

use nix::sys::termios::{self, LocalFlags, SetArg};

use super::flags::Flags;
use super::streams::Streams;
use crate::auth::{AuthConfig, Credential};
use crate::error::{Error, Result};
use crate::registry::{self, server_key, Credentials, Progress, Reference, DEFAULT_REGISTRY};
use crate::runtime::Runtime;

/// The progress display on the command's stdout (`on_stderr`: its stderr): bars when it is a
/// terminal, or the client of a daemon says its own is one.
fn progress(io: &mut Streams, on_stderr: bool) -> Progress<'_> {
    let client_tty = io.client_ttys[usize::from(on_stderr)];
    let out = if on_stderr {
        &mut io.stderr
    } else {
        &mut io.stdout
    };
    let tty = client_tty || nix::unistd::isatty(out.as_fd()).unwrap_or(false);
    let width = crate::term::window_size(&*out)
        .or(io.tty_size)
        .map(|(_, cols)| cols as usize)
        .unwrap_or(80);
    Progress::new(out, tty, width)
}

/// `run`'s pull of an image it does not have (docker's `--pull missing`, and `always`): the
/// notice and the progress on stderr, as docker prints them. A name that no registry could
/// hold keeps `missing`, the error of the image not found here.
pub(super) fn pull_for_run(
    rt: &Runtime,
    io: &mut Streams,
    name: &str,
    missing: Option<Error>,
) -> Result<()> {
    let r = match (Reference::parse(name), missing) {
        (Ok(r), _) => r,
        (Err(_), Some(missing)) => return Err(missing),
        (Err(e), None) => return Err(e),
    };
    if r.digest.is_none() {
        io.err(&format!(
            "Unable to find image '{}:{}' locally\n",
            r.name,
            r.tag_or_default()
        ))?;
    }
    let prog = progress(io, true);
    rt.pull_image(&r, &prog)
        .map_err(|e| e.context(format_args!("pulling {name}")))?;
    Ok(())
}

fn one_name<'a>(f: &Flags, args: &'a [String], what: &str) -> Result<&'a str> {
    match args {
        [name] => Ok(name),
        _ => Err(f.usage_error(&format!("{what} takes one NAME"))),
    }
}

/// `pull NAME[:TAG|@DIGEST]`: download an image from its registry (Docker Hub when the name
/// has no host) and tag it.
pub fn pull(rt: &Runtime, io: &mut Streams, args: &[String]) -> Result<i32> {
    let f = Flags::new(
        "pull",
        "NAME[:TAG|@DIGEST]",
        "Pull an image from a registry (NAME may start with HOST[:PORT]/)",
    );
    let Some(p) = f.parse(args, &mut io.stdout)? else {
        return Ok(0);
    };
    let r = Reference::parse(one_name(&f, &p.args, "pull")?)?;
    let prog = progress(io, false);
    let pulled = rt.pull_image(&r, &prog)?;
    if r.digest.is_some() {
        // Nothing is tagged: say which image it is.
        prog.line(&format!("Image: {}", pulled.id));
    }
    Ok(0)
}

/// `push NAME[:TAG]`: upload the image tagged NAME[:TAG] to the registry NAME names.
pub fn push(rt: &Runtime, io: &mut Streams, args: &[String]) -> Result<i32> {
    let f = Flags::new(
        "push",
        "NAME[:TAG]",
        "Push an image to a registry (tag it HOST[:PORT]/NAME first)",
    );
    let Some(p) = f.parse(args, &mut io.stdout)? else {
        return Ok(0);
    };
    let r = Reference::parse(one_name(&f, &p.args, "push")?)?;
    let prog = progress(io, false);
    let creds = registry::credentials(&rt.auth(), r.domain.as_deref());
    let trust = &rt.options().registry;
    registry::push(rt.graph(), rt.tags(), creds, trust, &r, &prog)?;
    Ok(0)
}

/// Puts the terminal's echo back when dropped.
struct EchoOff<'a> {
    fd: std::os::fd::BorrowedFd<'a>,
    saved: termios::Termios,
}

impl Drop for EchoOff<'_> {
    fn drop(&mut self) {
        let _ = termios::tcsetattr(self.fd, SetArg::TCSANOW, &self.saved);
    }
}

/// Read one line of stdin (byte by byte: nothing after it is consumed), without its newline;
/// `None` at the end of input. On a terminal, `prompt` is shown first and `secret` turns the
/// echo off.
fn ask(io: &mut Streams, prompt: &str, secret: bool) -> Result<Option<String>> {
    let tty = io.stdin_is_tty();
    if tty {
        io.out(prompt)?;
        io.stdout
            .flush()
            .map_err(|e| Error::io("writing to stdout", e))?;
    }
    let _echo = if tty && secret {
        let fd = io.stdin.as_fd();
        let saved =
            termios::tcgetattr(fd).map_err(|e| Error::errno("reading the terminal mode", e))?;
        let mut quiet = saved.clone();
        quiet.local_flags.remove(LocalFlags::ECHO);
        termios::tcsetattr(fd, SetArg::TCSANOW, &quiet)
            .map_err(|e| Error::errno("turning the terminal echo off", e))?;
        Some(EchoOff { fd, saved })
    } else {
        None
    };
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    let mut got_any = false;
    loop {
        match (&io.stdin).read(&mut byte) {
            Ok(0) => break,
            Ok(_) => {
                got_any = true;
                if byte[0] == b'\n' {
                    break;
                }
                line.push(byte[0]);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::io("reading stdin", e)),
        }
        if line.len() > 4096 {
            return Err(Error::invalid("the answer read from stdin is too long"));
        }
    }
    drop(_echo);
    if tty && secret {
        io.out("\n")?;
    }
    if !got_any {
        return Ok(None);
    }
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    String::from_utf8(line)
        .map(Some)
        .map_err(|_| Error::invalid("the answer read from stdin is not UTF-8"))
}

/// `login [-u USER] [-p PASSWORD] [-e EMAIL] [SERVER]`: check the credentials against the
/// registry (the default one without SERVER) and save them in `ROOT/.dockercfg`. What is not
/// given as a flag is read from stdin (with prompts on a terminal).
pub fn login(rt: &Runtime, io: &mut Streams, args: &[String]) -> Result<i32> {
    let mut f = Flags::new(
        "login",
        "[OPTIONS] [SERVER]",
        "Register or log in to a registry server (the default registry without SERVER)",
    );
    let user = f.value(&["u", "username"], "USER", "username");
    let pass = f.value(&["p", "password"], "PASSWORD", "password");
    let email = f.value(&["e", "email"], "EMAIL", "email");
    let Some(p) = f.parse(args, &mut io.stdout)? else {
        return Ok(0);
    };
    let server = match p.args.as_slice() {
        [] => None,
        [s] => server_key(s)?,
        _ => return Err(f.usage_error("login takes at most one SERVER")),
    };
    let shown = server
        .clone()
        .unwrap_or_else(|| DEFAULT_REGISTRY.to_string());
    let previous = rt.auth().get(server.as_deref()).cloned();
    let username = ask_username(io, p.value(user), previous.as_ref(), &shown)?;
    let password = ask_password(io, p.value(pass), &shown)?;
    let email = ask_email(io, p.value(email), previous.as_ref())?;
    if username.is_empty() || username.contains(':') {
        return Err(Error::invalid(format!(
            "login to {shown}: invalid username {username:?} (it may not be empty or hold ':')"
        )));
    }
    if email.contains('\n') || email.contains('[') {
        return Err(Error::invalid(format!("invalid email {email:?}")));
    }
    registry::login(
        server.as_deref(),
        Credentials {
            username: username.clone(),
            password: password.clone(),
        },
        &rt.options().registry,
    )
    .map_err(|e| e.context(format_args!("login to {shown} as {username:?} failed")))?;
    save_login(
        rt,
        Credential {
            server,
            username,
            password,
            email,
        },
    )?;
    io.out("Login Succeeded\n")?;
    Ok(0)
}

/// The username: `given` (`-u`), else read from stdin, else the one saved before.
fn ask_username(
    io: &mut Streams,
    given: Option<&str>,
    previous: Option<&Credential>,
    shown: &str,
) -> Result<String> {
    if let Some(u) = given {
        return Ok(u.to_string());
    }
    let prompt = match previous {
        Some(c) => format!("Username ({}): ", c.username),
        None => "Username: ".to_string(),
    };
    match ask(io, &prompt, false)? {
        Some(u) if !u.is_empty() => Ok(u),
        _ => match previous {
            Some(c) => Ok(c.username.clone()),
            None => Err(Error::invalid(format!(
                "login to {shown}: no username given (use -u USER)"
            ))),
        },
    }
}

/// The password: `given` (`-p`), else read from stdin (without echo on a terminal).
fn ask_password(io: &mut Streams, given: Option<&str>, shown: &str) -> Result<String> {
    match given {
        Some(pw) => Ok(pw.to_string()),
        None => ask(io, "Password: ", true)?.ok_or_else(|| {
            Error::invalid(format!(
                "login to {shown}: no password given (use -p PASSWORD or write it to stdin)"
            ))
        }),
    }
}

/// The email: `given` (`-e`), else asked on a terminal, else the one saved before (or none).
fn ask_email(
    io: &mut Streams,
    given: Option<&str>,
    previous: Option<&Credential>,
) -> Result<String> {
    if let Some(e) = given {
        return Ok(e.to_string());
    }
    let old = previous.map(|c| c.email.clone()).unwrap_or_default();
    if !io.stdin_is_tty() {
        return Ok(old);
    }
    let prompt = if old.is_empty() {
        "Email: ".to_string()
    } else {
        format!("Email ({old}): ")
    };
    Ok(ask(io, &prompt, false)?
        .filter(|e| !e.is_empty())
        .unwrap_or(old))
}

/// Save `cred` in `ROOT/.dockercfg` and in the runtime: the file is reloaded first (another
/// process may have saved other servers meanwhile), then set and saved.
fn save_login(rt: &Runtime, cred: Credential) -> Result<()> {
    let mut held = rt.auth();
    let mut cfg = AuthConfig::load(rt.root())?;
    cfg.set(cred);
    cfg.save(rt.root())?;
    *held = cfg;
    Ok(())
}
