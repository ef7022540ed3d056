//! The runtime's event bus, as `docker events` shows it: containers' create, start, die and
//! destroy, images' pull, import, tag, untag and delete. Emitting never blocks the runtime:
//! each subscriber has a queue of [`QUEUE`] events, and a subscriber that falls that far behind
//! is ended (its delivery stops after what it already holds, and it is told so by
//! [`Subscription::overflowed`]) rather than slowing a container's exit handling down.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use serde::Serialize;

use crate::error::{Error, Result};

/// Events one subscriber may have waiting; one more ends it.
pub const QUEUE: usize = 1024;

/// One event, in the Engine API's shape.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    /// `container` or `image`.
    #[serde(rename = "Type")]
    pub kind: &'static str,
    /// `create`, `start`, `die`, `destroy`, `pull`, `import`, `tag`, `untag`, `delete`.
    #[serde(rename = "Action")]
    pub action: &'static str,
    #[serde(rename = "Actor")]
    pub actor: Actor,
    /// Unix seconds.
    pub time: i64,
    #[serde(rename = "timeNano")]
    pub time_nano: i64,
}

/// What the event is about.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Actor {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "Attributes")]
    pub attributes: BTreeMap<String, String>,
}

impl Event {
    /// An event now about `id`, with `attributes` as (name, value) pairs.
    pub fn now(
        kind: &'static str,
        action: &'static str,
        id: &str,
        attributes: &[(&str, &str)],
    ) -> Event {
        let nanos = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0);
        Event {
            kind,
            action,
            actor: Actor {
                id: id.to_string(),
                attributes: attributes
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            },
            time: nanos.div_euclid(1_000_000_000),
            time_nano: nanos,
        }
    }

    /// The event as one line of JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// A message to a delivery thread: an event, or `None` to look at the stop flag.
type Message = Option<Arc<Event>>;

/// Where events are published. Thread-safe.
#[derive(Debug, Default)]
pub struct EventBus {
    subscribers: Mutex<Vec<(SyncSender<Message>, Arc<AtomicBool>)>>,
}

impl EventBus {
    /// Publish `e` to every subscriber, in the order of the calls. A subscriber whose queue is
    /// full is dropped (and marked overflowed); one whose delivery has ended is forgotten.
    pub fn emit(&self, e: Event) {
        let e = Arc::new(e);
        let mut subs = self.subscribers.lock().unwrap_or_else(|p| p.into_inner());
        subs.retain(|(tx, overflowed)| match tx.try_send(Some(e.clone())) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => {
                overflowed.store(true, Ordering::SeqCst);
                false
            }
            Err(TrySendError::Disconnected(_)) => false,
        });
    }

    fn subscribe(&self) -> (SyncSender<Message>, Receiver<Message>, Arc<AtomicBool>) {
        // One slot more than QUEUE for the stop message.
        let (tx, rx) = sync_channel(QUEUE + 1);
        let overflowed = Arc::new(AtomicBool::new(false));
        let mut subs = self.subscribers.lock().unwrap_or_else(|p| p.into_inner());
        subs.push((tx.clone(), overflowed.clone()));
        (tx, rx, overflowed)
    }

    /// How many subscribers are registered.
    pub fn subscriber_count(&self) -> usize {
        self.subscribers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .len()
    }
}

/// One subscriber: a thread delivering events in order to `deliver` until it returns false,
/// the bus drops the subscriber, or the subscription is dropped. Dropping it waits for a
/// delivery in progress: no call to `deliver` starts after the drop returned.
pub struct Subscription {
    stop: Arc<AtomicBool>,
    wake: SyncSender<Message>,
    overflowed: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Subscription {
    /// Subscribe to `bus`; events emitted after this returns are delivered.
    pub fn start(
        bus: &EventBus,
        mut deliver: impl FnMut(&Event) -> bool + Send + 'static,
    ) -> Result<Subscription> {
        let (wake, rx, overflowed) = bus.subscribe();
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let thread = std::thread::Builder::new()
            .name("docker-events".into())
            .spawn(move || {
                for msg in rx {
                    match msg {
                        Some(e) if !stop2.load(Ordering::SeqCst) => {
                            if !deliver(&e) {
                                break;
                            }
                        }
                        _ => break,
                    }
                }
            })
            .map_err(|e| Error::io("starting the events thread", e))?;
        Ok(Subscription {
            stop,
            wake,
            overflowed,
            thread: Some(thread),
        })
    }

    /// Whether the bus ended this subscriber because its queue was full.
    pub fn overflowed(&self) -> bool {
        self.overflowed.load(Ordering::SeqCst)
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // A full queue needs no wake-up: the thread looks at the flag before each event.
        let _ = self.wake.try_send(None);
        if let Some(t) = self.thread.take() {
            // Dropped from inside `deliver` (which the callers document as not allowed), the
            // thread cannot wait for itself: it ends after that delivery returns.
            if t.thread().id() != std::thread::current().id() {
                let _ = t.join();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn ev(n: usize) -> Event {
        Event::now("container", "start", &format!("{n}"), &[("exitCode", "0")])
    }

    #[test]
    fn delivers_in_order_and_stops_on_false() {
        let bus = EventBus::default();
        let (tx, rx) = std::sync::mpsc::channel();
        let sub = Subscription::start(&bus, move |e| {
            tx.send(e.actor.id.clone()).unwrap();
            e.actor.id != "2"
        })
        .unwrap();
        for n in 0..5 {
            bus.emit(ev(n));
        }
        let got: Vec<String> = (0..3)
            .map(|_| rx.recv_timeout(Duration::from_secs(5)).unwrap())
            .collect();
        assert_eq!(got, ["0", "1", "2"]);
        assert!(rx.recv_timeout(Duration::from_millis(200)).is_err());
        drop(sub);
        bus.emit(ev(9));
        assert_eq!(bus.subscriber_count(), 0);
    }

    #[test]
    fn json_has_the_engine_api_names() {
        let j = ev(1).to_json();
        for k in [
            "\"Type\":\"container\"",
            "\"Action\":\"start\"",
            "\"ID\":\"1\"",
            "\"exitCode\":\"0\"",
            "\"timeNano\":",
        ] {
            assert!(j.contains(k), "{k} in {j}");
        }
    }

    /// A subscriber that does not keep up is ended, and the emitter never blocks.
    #[test]
    fn a_slow_subscriber_is_dropped_not_waited_for() {
        let bus = EventBus::default();
        let gate = Arc::new(Mutex::new(()));
        let held = gate.lock().unwrap();
        let g2 = gate.clone();
        let sub = Subscription::start(&bus, move |_| {
            drop(g2.lock().unwrap());
            true
        })
        .unwrap();
        for n in 0..QUEUE + 10 {
            bus.emit(ev(n));
        }
        assert!(sub.overflowed());
        assert_eq!(bus.subscriber_count(), 0);
        drop(held);
        drop(sub);
    }

    /// After the drop returns, no delivery runs, even when one was in progress during it.
    #[test]
    fn no_delivery_after_drop() {
        let bus = EventBus::default();
        let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let c2 = calls.clone();
        let sub = Subscription::start(&bus, move |_| {
            std::thread::sleep(Duration::from_millis(100));
            c2.fetch_add(1, Ordering::SeqCst);
            true
        })
        .unwrap();
        for n in 0..5 {
            bus.emit(ev(n));
        }
        std::thread::sleep(Duration::from_millis(30));
        drop(sub);
        let after = calls.load(Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(calls.load(Ordering::SeqCst), after);
        assert!(after < 5);
    }
}
