//! Moving layers a few at a time while keeping their order (pull and push).

use crate::error::Result;

/// How many layers pull and push move at once (docker's default for downloads).
pub const CONCURRENT_LAYERS: usize = 3;

/// Run `work(i)` for every `i` in `0..n` on up to `workers` threads, taking indexes in order,
/// and hand each result to `take(i, value)` on the calling thread in index order as soon as
/// it and all before it are ready. The first error (from `work` or `take`) sets `cancel`, so
/// that workers start nothing more (and readers watching it stop), and is returned once every
/// worker has stopped; results not yet taken are dropped.
pub(crate) fn ordered_parallel<T: Send>(
    n: usize,
    workers: usize,
    cancel: &std::sync::atomic::AtomicBool,
    work: impl Fn(usize) -> Result<T> + Sync,
    mut take: impl FnMut(usize, T) -> Result<()>,
) -> Result<()> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Condvar, Mutex};

    let slots: Mutex<Vec<Option<Result<T>>>> = Mutex::new((0..n).map(|_| None).collect());
    let ready = Condvar::new();
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..workers.clamp(1, n.max(1)) {
            s.spawn(|| loop {
                if cancel.load(Ordering::SeqCst) {
                    break;
                }
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= n {
                    break;
                }
                let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(i)))
                    .unwrap_or_else(|_| {
                        Err(crate::error::Error::new(
                            crate::error::ErrorKind::Io,
                            "a layer transfer panicked",
                        ))
                    });
                slots.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(r);
                ready.notify_all();
            });
        }
        let mut result = Ok(());
        for i in 0..n {
            let mut guard = slots.lock().unwrap_or_else(|e| e.into_inner());
            while guard[i].is_none() {
                guard = ready.wait(guard).unwrap_or_else(|e| e.into_inner());
            }
            let r = guard[i].take();
            drop(guard);
            if let Some(r) = r {
                if let Err(e) = r.and_then(|v| take(i, v)) {
                    result = Err(e);
                    break;
                }
            }
        }
        if result.is_err() {
            cancel.store(true, Ordering::SeqCst);
        }
        result
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;
    use std::sync::atomic::AtomicBool;

    #[test]
    fn ordered_parallel_keeps_order_and_stops_on_error() {
        let cancel = AtomicBool::new(false);
        let mut seen = Vec::new();
        ordered_parallel(
            20,
            3,
            &cancel,
            |i| {
                std::thread::sleep(std::time::Duration::from_millis((20 - i as u64) % 7));
                Ok(i * 10)
            },
            |i, v| {
                seen.push((i, v));
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(seen, (0..20).map(|i| (i, i * 10)).collect::<Vec<_>>());

        let cancel = AtomicBool::new(false);
        let mut taken = Vec::new();
        let e = ordered_parallel(
            50,
            2,
            &cancel,
            |i| {
                if i == 3 {
                    Err(Error::invalid("layer 3 failed"))
                } else {
                    Ok(i)
                }
            },
            |i, _| {
                taken.push(i);
                Ok(())
            },
        )
        .unwrap_err();
        assert_eq!(e.message(), "layer 3 failed");
        assert_eq!(taken, vec![0, 1, 2]);
        assert!(cancel.load(std::sync::atomic::Ordering::SeqCst));
    }
}
