//! Deleting removed containers' folders off the caller's path. A removal renames the folder
//! to `.removing-ID` (one atomic step: the container is gone), and the janitor's thread
//! deletes the tree while the caller goes on (`run --rm` returns without waiting for a
//! container's files to be unlinked one by one). Dropping the janitor finishes what it was
//! given; a process that ends first leaves `.removing-` folders, which the next restore hands
//! to the janitor again.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{channel, Sender};
use std::sync::Mutex;
use std::thread::JoinHandle;

use crate::log::Logger;

/// The thread deleting folders, started at its first folder.
pub struct Janitor {
    queue: Mutex<Option<(Sender<PathBuf>, JoinHandle<()>)>>,
    logger: Logger,
}

impl std::fmt::Debug for Janitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Janitor")
    }
}

fn delete(dir: &Path, logger: &Logger) {
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            logger.warn(&format!("removing {}: {e}", dir.display()));
        }
        _ => {}
    }
}

impl Janitor {
    pub fn new(logger: Logger) -> Janitor {
        Janitor {
            queue: Mutex::new(None),
            logger,
        }
    }

    /// Delete `dir` (a folder already renamed out of the way) on the janitor's thread, or
    /// right here when that thread cannot be started.
    pub fn delete(&self, dir: PathBuf) {
        let mut queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        if queue.is_none() {
            let (tx, rx) = channel::<PathBuf>();
            let logger = self.logger.clone();
            let spawned = std::thread::Builder::new()
                .name("docker-janitor".into())
                .spawn(move || rx.into_iter().for_each(|d| delete(&d, &logger)));
            match spawned {
                Ok(thread) => *queue = Some((tx, thread)),
                Err(_) => return delete(&dir, &self.logger),
            }
        }
        if let Some((tx, _)) = queue.as_ref() {
            if let Err(e) = tx.send(dir) {
                delete(&e.0, &self.logger);
            }
        }
    }
}

impl Drop for Janitor {
    fn drop(&mut self) {
        let queue = self.queue.get_mut().unwrap_or_else(|e| e.into_inner());
        if let Some((tx, thread)) = queue.take() {
            drop(tx);
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_folder_given_is_gone_once_the_janitor_is_dropped() {
        let base = std::env::temp_dir().join(format!("janitor-test-{}", std::process::id()));
        let dirs: Vec<PathBuf> = (0..20)
            .map(|i| base.join(format!(".removing-{i}")))
            .collect();
        for d in &dirs {
            std::fs::create_dir_all(d.join("a/b")).unwrap();
            std::fs::write(d.join("a/b/file"), b"x").unwrap();
        }
        let janitor = Janitor::new(Logger::default());
        for d in &dirs {
            janitor.delete(d.clone());
        }
        // A folder already gone is no error.
        janitor.delete(base.join("never-made"));
        drop(janitor);
        let left = std::fs::read_dir(&base).unwrap().count();
        std::fs::remove_dir_all(&base).unwrap();
        assert_eq!(left, 0);
    }
}
