//! `docker_image_pull` through the ABI against a real registry (Debian's `docker-registry` on
//! 127.0.0.1, see `registry_support`): the JSON progress, and a progress callback that
//! cancels the pull.

mod common;
mod images_util;
mod registry_support;

use std::ffi::{c_char, CStr, CString};

use ::docker_runtime::ffi::container::{docker_runtime_containers_json, docker_string_free};
use ::docker_runtime::ffi::image::{docker_image_pull, docker_runtime_images_json};
use ::docker_runtime::ffi::result::docker_result;
use ::docker_runtime::ffi::runtime::{docker_runtime, docker_runtime_free, docker_runtime_new};
use common::cli::ok;
use common::json_calls::{on_json, JsonCalls};
use common::last_error;
use common::{make_busybox_image, TempDir};
use registry_support::{runtime, Auth, Registry};

fn new_runtime(root: &std::path::Path) -> *mut docker_runtime {
    let root = CString::new(root.to_str().unwrap()).unwrap();
    let mut rt = std::ptr::null_mut();
    // SAFETY: a valid string; default options.
    let r = unsafe { docker_runtime_new(root.as_ptr(), std::ptr::null(), &mut rt) };
    assert_eq!(r, docker_result::DOCKER_OK, "{}", last_error());
    rt
}

fn pull(rt: *mut docker_runtime, name: &str, reports: &JsonCalls) -> (docker_result, String) {
    let name = CString::new(name).unwrap();
    let mut id = [0 as c_char; 65];
    let ud = reports.userdata();
    // SAFETY: a live runtime, a valid string, a 65-byte buffer; reports outlives the call.
    let r = unsafe { docker_image_pull(rt, name.as_ptr(), Some(on_json), ud, id.as_mut_ptr(), 65) };
    // SAFETY: NUL-terminated (zeroed, or written by the pull).
    let id = unsafe { CStr::from_ptr(id.as_ptr()) }
        .to_string_lossy()
        .into_owned();
    (r, id)
}

fn json_of(
    f: unsafe extern "C" fn(*const docker_runtime, *mut *mut c_char) -> docker_result,
    rt: *mut docker_runtime,
) -> serde_json::Value {
    let mut p = std::ptr::null_mut();
    // SAFETY: a live runtime; the string is freed once.
    unsafe {
        assert_eq!(f(rt, &mut p), docker_result::DOCKER_OK);
        let v = serde_json::from_str(CStr::from_ptr(p).to_str().unwrap()).unwrap();
        docker_string_free(p);
        v
    }
}

#[test]
fn pull_reports_json_progress_and_a_callback_cancels_it() {
    let reg = Registry::start("typed-pull", Auth::None);
    let d = TempDir::new("typed-pull");
    let (root_a, root_b, root_c) = (d.join("a"), d.join("b"), d.join("c"));
    let a = runtime(&root_a);
    let id = make_busybox_image(&root_a);
    assert_eq!(id.len(), 64);
    let name = format!("{}/test/busy:v1", reg.host());
    let (repo, tag) = name.rsplit_once(':').unwrap();
    a.tags().set(repo, tag, &id, true).unwrap();
    ok(&a, &["push", &name]);

    let b = new_runtime(&root_b);
    let reports = JsonCalls::default();
    let (r, pulled) = pull(b, &name, &reports);
    assert_eq!(r, docker_result::DOCKER_OK, "{}", last_error());
    // A pulled image's id is its configuration's digest.
    assert_eq!(pulled.len(), 64);
    let seen = reports.seen.lock().unwrap().clone();
    let status = |s: &str| seen.iter().filter(|v| v["status"] == s).count();
    assert!(status("Downloading") >= 1, "{seen:?}");
    assert_eq!(status("Pull complete"), 1, "{seen:?}");
    let first = seen.iter().find(|v| v["status"] == "Downloading").unwrap();
    assert_eq!(first["id"].as_str().unwrap().len(), 12, "{first}");
    assert!(
        first["progressDetail"]["total"].as_u64().unwrap() > 500_000,
        "{first}"
    );
    assert!(
        seen[0]["status"].as_str().unwrap().starts_with("Pulling "),
        "{seen:?}"
    );
    let images = json_of(docker_runtime_images_json, b);
    assert_eq!(images[0]["RepoTags"][0], name.as_str());
    assert_eq!(images[0]["Id"], pulled.as_str());
    assert_eq!(
        json_of(docker_runtime_containers_json_all, b),
        serde_json::json!([])
    );

    // The first report answered with 1: no second call, CANCELLED, no image.
    let c = new_runtime(&root_c);
    let cancelling = JsonCalls {
        answer: 1,
        ..Default::default()
    };
    let (r, _) = pull(c, &name, &cancelling);
    assert_eq!(r, docker_result::DOCKER_ERR_CANCELLED, "{}", last_error());
    assert_eq!(cancelling.seen.lock().unwrap().len(), 1);
    assert_eq!(
        json_of(docker_runtime_images_json, c),
        serde_json::json!([])
    );
    // SAFETY: made by docker_runtime_new, freed once.
    unsafe {
        docker_runtime_free(b);
        docker_runtime_free(c);
    }
}

unsafe extern "C" fn docker_runtime_containers_json_all(
    rt: *const docker_runtime,
    json: *mut *mut c_char,
) -> docker_result {
    // SAFETY: forwarded.
    unsafe { docker_runtime_containers_json(rt, 1, json) }
}
