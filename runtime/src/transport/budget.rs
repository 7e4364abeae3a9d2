//! The budget of unauthenticated connections: a total and a share per source address.
//!
//! A connection takes a [`PreAuthSlot`] before its handshake starts and gives it
//! back when the handshake ends either way (the slot is dropped), so a flood of
//! strangers holds at most `per_address` slots per address and `total` in all,
//! while authenticated connections are counted elsewhere.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// Counts of connections that have not authenticated yet.
pub(crate) struct PreAuthBudget {
    total: usize,
    per_address: usize,
    held: Mutex<Held>,
}

#[derive(Default)]
struct Held {
    total: usize,
    by_address: HashMap<IpAddr, usize>,
}

/// Why a connection got no slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NoSlot {
    /// Its source address holds its whole share.
    AddressFull,
    /// All unauthenticated slots are taken.
    TotalFull,
}

/// One unauthenticated connection's slot, returned when dropped.
pub(crate) struct PreAuthSlot {
    budget: Arc<PreAuthBudget>,
    address: IpAddr,
}

impl PreAuthBudget {
    pub(crate) fn new(total: usize, per_address: usize) -> PreAuthBudget {
        PreAuthBudget {
            total,
            per_address,
            held: Mutex::new(Held::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Held> {
        match self.held.lock() {
            Ok(h) => h,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Takes a slot for a connection from `address`, if its share and the total allow.
    pub(crate) fn take(self: &Arc<Self>, address: IpAddr) -> Result<PreAuthSlot, NoSlot> {
        let mut held = self.lock();
        let mine = held.by_address.get(&address).copied().unwrap_or(0);
        if mine >= self.per_address {
            return Err(NoSlot::AddressFull);
        }
        if held.total >= self.total {
            return Err(NoSlot::TotalFull);
        }
        held.total += 1;
        held.by_address.insert(address, mine + 1);
        Ok(PreAuthSlot {
            budget: self.clone(),
            address,
        })
    }

    /// Slots held right now (for tests).
    #[cfg(test)]
    pub(crate) fn held(&self) -> usize {
        self.lock().total
    }
}

impl Drop for PreAuthSlot {
    fn drop(&mut self) {
        let mut held = self.budget.lock();
        assert!(held.total > 0, "a pre-auth slot returned twice");
        held.total -= 1;
        let remove = match held.by_address.get_mut(&self.address) {
            Some(n) => {
                *n -= 1;
                *n == 0
            }
            None => false,
        };
        if remove {
            held.by_address.remove(&self.address);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_address_cannot_take_the_slots_of_others() {
        let budget = Arc::new(PreAuthBudget::new(5, 2));
        let a: IpAddr = [127, 0, 0, 2].into();
        let b: IpAddr = [127, 0, 0, 1].into();
        let a1 = budget.take(a).expect("first slot");
        let _a2 = budget.take(a).expect("second slot");
        assert_eq!(budget.take(a).err(), Some(NoSlot::AddressFull));
        let _b1 = budget.take(b).expect("another address still gets one");
        drop(a1);
        let _a3 = budget.take(a).expect("a returned slot is reusable");
        assert_eq!(budget.held(), 3);
    }

    #[test]
    fn the_total_bounds_many_addresses() {
        let budget = Arc::new(PreAuthBudget::new(3, 2));
        let slots: Vec<_> = (1..=3u8)
            .map(|i| budget.take([127, 0, 0, i].into()).expect("slot"))
            .collect();
        assert_eq!(
            budget.take([127, 0, 0, 9].into()).err(),
            Some(NoSlot::TotalFull)
        );
        drop(slots);
        assert_eq!(budget.held(), 0);
    }
}
