//! `completion bash`: a bash completion script made from the command table and each command's
//! flag table (read with [`super::flags::describe`]), so it never lists a flag that does not
//! exist. Arguments that are not flags complete to the runtime's containers (ids and names)
//! and images, asked of `docker` when the user presses TAB.

use std::fs::File;

use super::flags::{describe, FlagInfo, Flags};
use super::streams::Streams;
use crate::error::{Error, Result};
use crate::runtime::Runtime;

/// A command of the dispatch table: its name and handler (the table's `Handler`).
pub type Entry = (
    &'static str,
    fn(&Runtime, &mut Streams, &[String]) -> Result<i32>,
);

/// The client's global options (the `docker` program's, before the command): (names, takes a
/// value). `tests/daemon.rs` checks them against `docker --help`.
const GLOBAL_FLAGS: &[(&[&str], bool)] = &[
    (&["H", "host"], true),
    (&["g", "graph"], true),
    (&["d", "daemon"], false),
    (&["D", "debug"], false),
    (&["b", "bridge"], true),
    (&["bip"], true),
    (&["iptables-chain"], true),
    (&["init-path"], true),
    (&["ip-forward"], true),
    (&["insecure-registry"], true),
    (&["registry-certs-dir"], true),
    (&["G", "group"], true),
    (&["request-timeout"], true),
    (&["h", "help"], false),
    (&["v", "version"], false),
];

fn dashed(name: &str) -> String {
    if name.len() == 1 {
        format!("-{name}")
    } else {
        format!("--{name}")
    }
}

/// Every spelling of the flags, and those of the ones that take a value.
fn words<'a>(flags: impl Iterator<Item = (&'a [&'a str], bool)>) -> (String, String) {
    let (mut all, mut valued) = (Vec::new(), Vec::new());
    for (names, takes_value) in flags {
        for n in names {
            all.push(dashed(n));
            if takes_value {
                valued.push(dashed(n));
            }
        }
    }
    (all.join(" "), valued.join(" "))
}

/// The flags of `cmd`, read by running it in describe mode with streams that go nowhere.
fn flags_of(rt: &Runtime, cmd: &Entry) -> Result<Vec<FlagInfo>> {
    let null = || {
        File::options()
            .read(true)
            .write(true)
            .open("/dev/null")
            .map_err(|e| Error::io("opening /dev/null", e))
    };
    let mut io = Streams::new(null()?.into(), null()?.into(), null()?.into());
    Ok(describe(|| {
        let _ = (cmd.1)(rt, &mut io, &[]);
    }))
}

/// The script's `case` arm for one command.
fn arm(name: &str, flags: &[FlagInfo]) -> String {
    let (all, valued) = words(flags.iter().map(|f| (f.names, f.takes_value)));
    format!("    {name}) flags=\"{all}\"; valued=\"{valued}\" ;;\n")
}

/// The bash completion script for the commands of `table`.
pub fn bash_script(rt: &Runtime, table: &[Entry]) -> Result<String> {
    let names: Vec<&str> = table.iter().map(|c| c.0).collect();
    let (global, global_valued) = words(GLOBAL_FLAGS.iter().copied());
    let mut arms = String::new();
    for cmd in table.iter().filter(|c| c.0 != "help") {
        arms.push_str(&arm(cmd.0, &flags_of(rt, cmd)?));
    }
    Ok(format!(
        r#"# bash completion for docker (docker-runtime). Made by `docker completion bash`; load it
# with: source <(docker completion bash)
_docker_runtime() {{
  local cur=${{COMP_WORDS[COMP_CWORD]}} prev=${{COMP_WORDS[COMP_CWORD-1]}}
  local global_valued="{global_valued}" cmd="" flags="" valued="" i
  local -a global_args=()
  for ((i = 1; i < COMP_CWORD; i++)); do
    case " $global_valued " in
      *" ${{COMP_WORDS[i]}} "*) global_args+=("${{COMP_WORDS[i]}}" "${{COMP_WORDS[i+1]}}"); ((i++)); continue ;;
    esac
    case ${{COMP_WORDS[i]}} in
      -*) ;;
      *) cmd=${{COMP_WORDS[i]}}; break ;;
    esac
  done
  if [[ -z $cmd ]]; then
    case " $global_valued " in *" $prev "*) return ;; esac
    if [[ $cur == -* ]]; then
      COMPREPLY=($(compgen -W "{global}" -- "$cur"))
    else
      COMPREPLY=($(compgen -W "{commands}" -- "$cur"))
    fi
    return
  fi
  case $cmd in
{arms}    *) return ;;
  esac
  case " $valued " in *" $prev "*) return ;; esac
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$flags" -- "$cur"))
    return
  fi
  local names
  names=$(docker "${{global_args[@]}}" ps -a 2>/dev/null | awk 'NR > 1 {{ print $1; print $NF }}'; docker "${{global_args[@]}}" images 2>/dev/null | awk 'NR > 1 && $1 != "<none>" {{ print $1 ":" $2 }}')
  COMPREPLY=($(compgen -W "$names" -- "$cur"))
}}
complete -F _docker_runtime docker
"#,
        commands = names.join(" "),
    ))
}

/// `docker completion bash` for the commands of `table`.
pub fn completion(rt: &Runtime, io: &mut Streams, args: &[String], table: &[Entry]) -> Result<i32> {
    let f = Flags::new(
        "completion",
        "bash",
        "Print a shell completion script (bash): source <(docker completion bash)",
    );
    let Some(p) = f.parse(args, &mut io.stdout)? else {
        return Ok(0);
    };
    match p.args.as_slice() {
        [shell] if shell == "bash" => {}
        [shell] => {
            return Err(Error::unsupported(format!(
                "completion for {shell:?} is not made here: only bash"
            )))
        }
        _ => return Err(f.usage_error("completion takes one SHELL: bash")),
    }
    io.out(&bash_script(rt, table)?)?;
    Ok(0)
}
