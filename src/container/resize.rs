//! A terminal that follows its client's window: each size a [`WindowSizes`] feed delivers is
//! applied on a thread (a container's terminal with
//! [`Container::resize`](super::lifecycle::Container::resize), an exec's with its
//! own), until the [`Follower`] is dropped.

use std::os::fd::AsFd;
use std::sync::Arc;
use std::thread::JoinHandle;

use super::event::{poll_in, Event};
use crate::error::{Error, Result};
use crate::term::WindowSizes;

/// The thread applying window sizes; dropping it stops the thread and waits for it.
#[derive(Debug)]
pub struct Follower {
    stop: Arc<Event>,
    thread: Option<JoinHandle<()>>,
}

/// Call `resize(rows, cols)` with each size `sizes` delivers, a size already waiting first.
pub fn follow(
    sizes: WindowSizes,
    mut resize: impl FnMut(u16, u16) + Send + 'static,
) -> Result<Follower> {
    let stop = Arc::new(Event::new()?);
    let stopped = stop.clone();
    let thread = std::thread::Builder::new()
        .name("resize".into())
        .spawn(move || loop {
            let Ok(ready) = poll_in(&[sizes.as_fd(), stopped.as_fd()], -1) else {
                return;
            };
            if ready[1] {
                return;
            }
            if let Some((rows, cols)) = sizes.take() {
                resize(rows, cols);
            }
        })
        .map_err(|e| Error::io("starting the resize thread", e))?;
    Ok(Follower {
        stop,
        thread: Some(thread),
    })
}

impl Drop for Follower {
    fn drop(&mut self) {
        self.stop.signal();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Duration;

    #[test]
    fn sizes_are_applied_in_order_and_the_follower_stops_on_drop() {
        let sizes = WindowSizes::new().unwrap();
        sizes.send(10, 20);
        let (tx, rx) = mpsc::channel();
        let f = follow(sizes.clone(), move |r, c| tx.send((r, c)).unwrap()).unwrap();
        let wait = Duration::from_secs(10);
        assert_eq!(rx.recv_timeout(wait).unwrap(), (10, 20), "the waiting size");
        sizes.send(30, 40);
        assert_eq!(rx.recv_timeout(wait).unwrap(), (30, 40));
        drop(f);
        // The thread is gone with its sender: nothing more comes.
        sizes.send(50, 60);
        assert!(rx.recv().is_err());
    }
}
