//! Container names for real: `run --name` with docker's rules and conflict, generated names,
//! names in `ps` and `inspect` and accepted by every command taking a container, `rename`,
//! concurrent reservations, names freed by `rm` and by a failed run, v0.1.0 records without
//! a name.

mod common;

use std::sync::{Arc, Barrier};

use common::cli::{call, ok};
use common::Fixture;

fn run_named(f: &Fixture, name: &str, cmd: &[&str]) -> String {
    let mut args = vec!["run", "-d", "--name", name, "busybox"];
    args.extend(cmd);
    ok(&f.rt, &args).trim().to_string()
}

#[test]
fn name_rules_and_conflicts() {
    let f = Fixture::new("nmrules");
    for bad in ["a", "_web", "-web", "we b", "web/x", "wéb"] {
        let out = call(&f.rt, &["run", "--name", bad, "busybox", "true"]);
        assert_eq!(out.status, 125, "{bad}: {}", out.stderr);
        assert!(
            out.stderr.contains("invalid container name"),
            "{bad}: {}",
            out.stderr
        );
    }
    assert_eq!(f.rt.container_count(), 0, "a refused name made nothing");
    let id = run_named(&f, "web", &["true"]);
    let out = call(&f.rt, &["run", "--name", "web", "busybox", "true"]);
    assert_eq!(out.status, 125, "{}", out.stderr);
    let want = format!(
        "Conflict. The container name \"/web\" is already in use by container \"{id}\". You have to remove (or rename) that container to be able to reuse that name."
    );
    assert!(out.stderr.contains(&want), "{}", out.stderr);
    // `/web` is the same name.
    let out = call(&f.rt, &["run", "--name", "/web", "busybox", "true"]);
    assert_eq!(out.status, 125, "{}", out.stderr);
    assert_eq!(f.rt.container_count(), 1);
}

#[test]
fn names_show_in_ps_and_inspect_and_name_the_container_everywhere() {
    let f = Fixture::new("nmshow");
    let id = run_named(&f, "web", &["sh", "-c", "echo hi; sleep 30"]);
    let unnamed = ok(&f.rt, &["run", "-d", "busybox", "true"])
        .trim()
        .to_string();
    let ps = ok(&f.rt, &["ps", "-a"]);
    let header = ps.lines().next().unwrap();
    assert!(header.trim_end().ends_with("NAMES"), "{header}");
    let row = ps.lines().find(|l| l.starts_with(&id[..12])).unwrap();
    assert!(row.trim_end().ends_with("web"), "{row}");
    // A container created without a name has a generated adjective_surname.
    let other = ps.lines().find(|l| l.starts_with(&unnamed[..12])).unwrap();
    let generated = other.split_whitespace().last().unwrap();
    assert!(
        generated.contains('_')
            && generated
                .chars()
                .all(|c| c.is_ascii_lowercase() || c == '_' || c.is_ascii_digit()),
        "{other}"
    );
    assert!(ok(&f.rt, &["inspect", generated]).contains(&unnamed));
    let inspected: serde_json::Value =
        serde_json::from_str(&ok(&f.rt, &["inspect", "web"])).unwrap();
    assert_eq!(inspected["Name"], "/web");
    assert_eq!(inspected["Id"], id.as_str());
    // Every command taking a container takes its name.
    assert!(common::eventually(
        std::time::Duration::from_secs(5),
        || { ok(&f.rt, &["logs", "web"]) == "hi\n" }
    ));
    assert_eq!(ok(&f.rt, &["pause", "web"]), "web\n");
    assert_eq!(ok(&f.rt, &["unpause", "/web"]), "/web\n");
    ok(&f.rt, &["diff", "web"]);
    ok(&f.rt, &["commit", "web", "webimage"]);
    let out = call(&f.rt, &["port", "web", "80"]);
    assert!(
        out.stderr.contains("no public port is mapped"),
        "{}",
        out.stderr
    );
    assert_eq!(ok(&f.rt, &["kill", "web"]), "web\n");
    assert_eq!(ok(&f.rt, &["wait", "web"]), "137\n");
    assert_eq!(ok(&f.rt, &["start", "web"]), "web\n");
    assert_eq!(ok(&f.rt, &["stop", "-t", "0", "web"]), "web\n");
    assert_eq!(ok(&f.rt, &["rm", "web"]), "web\n");
    let out = call(&f.rt, &["logs", "web"]);
    assert!(
        out.stderr.contains("no such container: web"),
        "{}",
        out.stderr
    );
    // An exact id comes before a name, a name before an id prefix: a container named like
    // another's id prefix is found by its name.
    let prefix = &unnamed[..6];
    let shadow = run_named(&f, prefix, &["true"]);
    let got: serde_json::Value = serde_json::from_str(&ok(&f.rt, &["inspect", prefix])).unwrap();
    assert_eq!(got["Id"], shadow.as_str());
    let got: serde_json::Value = serde_json::from_str(&ok(&f.rt, &["inspect", &unnamed])).unwrap();
    assert_eq!(got["Id"], unnamed.as_str());
}

#[test]
fn rename_moves_the_name_with_the_same_rules() {
    let f = Fixture::new("nmrename");
    let a = run_named(&f, "alpha", &["true"]);
    let b = run_named(&f, "beta", &["true"]);
    ok(&f.rt, &["rename", "alpha", "gamma"]);
    let got: serde_json::Value = serde_json::from_str(&ok(&f.rt, &["inspect", "gamma"])).unwrap();
    assert_eq!(got["Id"], a.as_str());
    assert!(call(&f.rt, &["inspect", "alpha"]).status != 0);
    // The old name is free again.
    run_named(&f, "alpha", &["true"]);
    let out = call(&f.rt, &["rename", "gamma", "beta"]);
    assert_eq!(out.status, 1);
    assert!(
        out.stderr
            .contains(&format!("already in use by container \"{b}\"")),
        "{}",
        out.stderr
    );
    let out = call(&f.rt, &["rename", "gamma", "-bad"]);
    assert!(
        out.stderr.contains("invalid container name"),
        "{}",
        out.stderr
    );
    let out = call(&f.rt, &["rename", "gamma"]);
    assert_eq!(out.status, 125, "{}", out.stderr);
    // The new name is in the record: it survives a restart.
    let rt2 = f.reopen();
    assert_eq!(rt2.container("gamma").unwrap().id, a);
    assert_eq!(rt2.container("beta").unwrap().id, b);
}

#[test]
fn concurrent_runs_with_one_name_reserve_it_once() {
    let f = Arc::new(Fixture::new("nmrace"));
    const N: usize = 8;
    let barrier = Arc::new(Barrier::new(N));
    let threads: Vec<_> = (0..N)
        .map(|_| {
            let (f, barrier) = (f.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                call(&f.rt, &["run", "-d", "--name", "race", "busybox", "true"])
            })
        })
        .collect();
    let outs: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let won = outs.iter().filter(|o| o.status == 0).count();
    assert_eq!(won, 1, "exactly one run gets the name");
    for o in outs.iter().filter(|o| o.status != 0) {
        assert_eq!(o.status, 125);
        assert!(o.stderr.contains("Conflict."), "{}", o.stderr);
    }
    assert_eq!(f.rt.container_count(), 1);
}

#[test]
fn names_are_freed_by_rm_and_by_a_failed_run() {
    let f = Fixture::new("nmfree");
    // A run that fails before its container exists leaves the name free.
    let out = call(
        &f.rt,
        &[
            "run",
            "--pull",
            "never",
            "--name",
            "app",
            "nosuchimage",
            "true",
        ],
    );
    assert_eq!(out.status, 125, "{}", out.stderr);
    let out = call(&f.rt, &["run", "--name", "app", "busybox"]);
    assert!(
        out.stderr.contains("no command specified"),
        "{}",
        out.stderr
    );
    let id = run_named(&f, "app", &["true"]);
    ok(&f.rt, &["wait", "app"]);
    ok(&f.rt, &["rm", "app"]);
    let id2 = run_named(&f, "app", &["true"]);
    assert_ne!(id, id2);
    // `run --rm` frees it when the container goes.
    ok(&f.rt, &["wait", "app"]);
    ok(&f.rt, &["rm", "app"]);
    ok(&f.rt, &["run", "--rm", "--name", "app", "busybox", "true"]);
    run_named(&f, "app", &["true"]);
}

#[test]
fn a_record_without_a_name_loads_with_a_generated_one() {
    let f = Fixture::new("nmold");
    let id = ok(&f.rt, &["run", "-d", "busybox", "true"])
        .trim()
        .to_string();
    ok(&f.rt, &["wait", &id]);
    // Make it a v0.1.0 record: no `Name` field.
    let path = f.root().join("containers").join(&id).join("config.json");
    let mut rec: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    rec.as_object_mut().unwrap().remove("Name");
    std::fs::write(&path, serde_json::to_vec(&rec).unwrap()).unwrap();
    let rt2 = f.reopen();
    let name = rt2.container(&id).unwrap().record().name;
    assert!(name.starts_with('/') && name.contains('_'), "{name}");
    // Saved: the same name after another restart, and it names the container.
    let rt3 = f.reopen();
    assert_eq!(rt3.container(&id).unwrap().record().name, name);
    assert_eq!(rt3.container(&name[1..]).unwrap().id, id);
}
