//! `docker`: the command-line program. It drives the library only through its exported C ABI
//! (`docker_runtime_new`, `docker_runtime_restore`, `docker_runtime_call_with`), as any C
//! program would.
//!
//! `docker [-g ROOT] [-b BRIDGE] COMMAND ARGS...` runs COMMAND in-process on ROOT and exits
//! with the command's status.

use std::ffi::{c_char, CString};
use std::process::ExitCode;
use std::ptr;

use ::docker_runtime::ffi::error::{docker_error_message, docker_result};
use ::docker_runtime::ffi::runtime::{
    docker_call_options, docker_call_options_init, docker_runtime, docker_runtime_call_with,
    docker_runtime_free, docker_runtime_new, docker_runtime_options, docker_runtime_options_init,
    docker_runtime_restore,
};

/// Where the runtime keeps its state unless `-g` says otherwise.
const DEFAULT_ROOT: &str = "/var/lib/docker-runtime";

fn last_error() -> String {
    let mut buf = vec![0u8; 4096];
    // SAFETY: buf is writable for its length.
    let n = unsafe { docker_error_message(buf.as_mut_ptr().cast(), buf.len()) };
    buf.truncate(n.min(buf.len() - 1));
    String::from_utf8_lossy(&buf).into_owned()
}

fn usage_error(msg: &str) -> ExitCode {
    eprintln!("docker: {msg}\nUsage: docker [-g ROOT] [-b BRIDGE] COMMAND [arg...]");
    ExitCode::from(2)
}

fn cstring(s: &str, what: &str) -> Result<CString, String> {
    CString::new(s).map_err(|_| format!("{what} contains a NUL byte"))
}

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut root = DEFAULT_ROOT.to_string();
    let mut bridge: Option<String> = None;
    while let Some(a) = args.first() {
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) if f.starts_with('-') => (f.to_string(), Some(v.to_string())),
            _ => (a.clone(), None),
        };
        let takes_value = matches!(flag.as_str(), "-g" | "--graph" | "-b" | "--bridge");
        if !takes_value {
            break;
        }
        args.remove(0);
        let value = match inline {
            Some(v) => v,
            None if !args.is_empty() => args.remove(0),
            None => return usage_error(&format!("flag {flag} needs a value")),
        };
        match flag.as_str() {
            "-g" | "--graph" => root = value,
            _ => bridge = Some(value),
        }
    }
    match run(&root, bridge.as_deref(), &args) {
        Ok(status) => ExitCode::from(status.clamp(0, 255) as u8),
        Err(msg) => {
            eprintln!("Error: {msg}");
            ExitCode::from(1)
        }
    }
}

fn run(root: &str, bridge: Option<&str>, args: &[String]) -> Result<i32, String> {
    let c_root = cstring(root, "the root path")?;
    let c_bridge = bridge.map(|b| cstring(b, "the bridge name")).transpose()?;
    let c_args = args
        .iter()
        .map(|a| cstring(a, "an argument"))
        .collect::<Result<Vec<_>, _>>()?;
    let argv: Vec<*const c_char> = c_args.iter().map(|a| a.as_ptr()).collect();

    // SAFETY: zeroed is a valid bit pattern for this plain C struct; init then fills it.
    let mut opts: docker_runtime_options = unsafe { std::mem::zeroed() };
    // SAFETY: opts is a valid, writable options struct.
    unsafe { docker_runtime_options_init(&mut opts) };
    if let Some(b) = &c_bridge {
        opts.bridge_name = b.as_ptr();
    }
    let mut rt: *mut docker_runtime = ptr::null_mut();
    // SAFETY: every pointer is valid for the call; rt receives a handle on success.
    if unsafe { docker_runtime_new(c_root.as_ptr(), &opts, &mut rt) } != docker_result::DOCKER_OK {
        return Err(last_error());
    }
    let result = (|| {
        // SAFETY: rt is a live handle; loaded may be NULL.
        if unsafe { docker_runtime_restore(rt, ptr::null_mut()) } != docker_result::DOCKER_OK {
            return Err(last_error());
        }
        // SAFETY: as above for the call options.
        let mut call: docker_call_options = unsafe { std::mem::zeroed() };
        // SAFETY: call is a valid, writable struct.
        unsafe { docker_call_options_init(&mut call) };
        call.stdin_fd = 0;
        let mut status = 0;
        // SAFETY: rt is live, argv holds argv.len() valid strings, call and status are valid.
        let r = unsafe {
            docker_runtime_call_with(rt, argv.len() as i32, argv.as_ptr(), &call, &mut status)
        };
        // A failed command already printed "Error: ..." to stderr; only its status matters.
        let _ = r;
        Ok(status)
    })();
    // SAFETY: rt was made above and is released once.
    unsafe { docker_runtime_free(rt) };
    result
}
