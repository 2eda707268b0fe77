//! The registry of goroutines that have parked, for shutdown and `dump`.

use std::sync::atomic::Ordering;
use std::sync::{Mutex, MutexGuard};

use crossbeam_utils::CachePadded;

use crate::task::{Task, TaskRef};

/// Every goroutine that has parked at least once and not finished, for
/// shutdown (the others are always in a queue or on a worker). Sharded by
/// the worker that registers it, so that workers do not contend for one lock;
/// a task's key holds its shard and its slot.
pub(crate) struct Registry {
    shards: Box<[CachePadded<Mutex<Slab>>]>,
}

#[derive(Default)]
struct Slab {
    slots: Vec<Option<TaskRef>>,
    free: Vec<usize>,
}

/// Bits of a registry key that hold the slot; the shard is above them.
const SLOT_BITS: u32 = 40;

impl Registry {
    pub(crate) fn new(shards: usize) -> Registry {
        Registry {
            shards: (0..shards).map(|_| CachePadded::default()).collect(),
        }
    }

    fn lock(&self, shard: usize) -> MutexGuard<'_, Slab> {
        self.shards[shard].lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers `task`, from worker `shard`, unless it is already. Only the
    /// thread that owns the goroutine's run registers or removes it.
    #[inline]
    pub(crate) fn register(&self, shard: usize, task: &TaskRef) {
        if task.registry_key.load(Ordering::Relaxed) != usize::MAX {
            return;
        }
        self.insert(shard, task);
    }

    #[cold]
    fn insert(&self, shard: usize, task: &TaskRef) {
        let mut slab = self.lock(shard);
        let slot = match slab.free.pop() {
            Some(slot) => {
                slab.slots[slot] = Some(task.clone());
                slot
            }
            None => {
                slab.slots.push(Some(task.clone()));
                slab.slots.len() - 1
            }
        };
        task.registry_key
            .store((shard << SLOT_BITS) | slot, Ordering::Relaxed);
    }

    /// Forgets `task` if it was registered.
    pub(crate) fn remove(&self, task: &Task) {
        let key = task.registry_key.load(Ordering::Relaxed);
        if key == usize::MAX {
            return;
        }
        task.registry_key.store(usize::MAX, Ordering::Relaxed);
        let (shard, slot) = (key >> SLOT_BITS, key & ((1 << SLOT_BITS) - 1));
        let removed = {
            let mut slab = self.lock(shard);
            let removed = slab.slots.get_mut(slot).and_then(Option::take);
            if removed.is_some() {
                slab.free.push(slot);
            }
            removed
        };
        drop(removed);
    }

    /// The registered goroutine with this id, if any.
    pub(crate) fn find(&self, id: u64) -> Option<TaskRef> {
        (0..self.shards.len()).find_map(|shard| {
            self.lock(shard)
                .slots
                .iter()
                .flatten()
                .find(|t| t.id.as_u64() == id)
                .cloned()
        })
    }

    /// The goroutines registered by worker `shard` (in the default mode,
    /// those that started there).
    pub(crate) fn shard(&self, shard: usize) -> Vec<TaskRef> {
        self.lock(shard).slots.iter().flatten().cloned().collect()
    }

    pub(crate) fn all(&self) -> Vec<TaskRef> {
        (0..self.shards.len())
            .flat_map(|shard| self.shard(shard))
            .collect()
    }
}
