//! The vat's QuickJS allocator: its heap drawn from the vat's [`Budget`] (`vat/budget.rs`), so
//! that a heap that cannot grow is known from the budget's state.

use crate::vat::budget::Budget;
use rquickjs::allocator::Allocator;
use std::sync::Arc;

/// The vat's QuickJS allocator: the C allocator, with every block's usable size counted
/// against the vat's [`Budget`].
pub struct VatAllocator {
    budget: Arc<Budget>,
}

impl VatAllocator {
    /// An allocator drawing on `budget`.
    pub fn new(budget: Arc<Budget>) -> VatAllocator {
        VatAllocator { budget }
    }

    /// Counts a fresh block, or frees it if it does not fit.
    fn admit(&self, ptr: *mut u8) -> *mut u8 {
        if ptr.is_null() {
            return ptr;
        }
        // SAFETY: `ptr` was just returned by the C allocator.
        let size = unsafe { usable_size(ptr) };
        if self.budget.take(size) {
            return ptr;
        }
        // SAFETY: as above; nobody else has seen it.
        unsafe { libc::free(ptr.cast()) };
        self.budget.exhaust();
        std::ptr::null_mut()
    }
}

// SAFETY: blocks come from the C allocator (aligned for any type, `usable_size` valid for them)
// and go back to it; the budget only decides whether a block is handed out.
unsafe impl Allocator for VatAllocator {
    fn alloc(&mut self, size: usize) -> *mut u8 {
        if size > self.budget.limit() {
            self.budget.exhaust();
            return std::ptr::null_mut();
        }
        // SAFETY: malloc has no preconditions.
        self.admit(unsafe { libc::malloc(size.max(1)) }.cast())
    }

    fn calloc(&mut self, count: usize, size: usize) -> *mut u8 {
        if count.saturating_mul(size) > self.budget.limit() {
            self.budget.exhaust();
            return std::ptr::null_mut();
        }
        // SAFETY: calloc has no preconditions.
        self.admit(unsafe { libc::calloc(count.max(1), size.max(1)) }.cast())
    }

    unsafe fn dealloc(&mut self, ptr: *mut u8) {
        // SAFETY: the caller passes a block this allocator handed out.
        let size = unsafe { usable_size(ptr) };
        self.budget.give_back(size);
        // SAFETY: as above.
        unsafe { libc::free(ptr.cast()) };
    }

    unsafe fn realloc(&mut self, ptr: *mut u8, new_size: usize) -> *mut u8 {
        if ptr.is_null() {
            return self.alloc(new_size);
        }
        // SAFETY: the caller passes a block this allocator handed out.
        let old = unsafe { usable_size(ptr) };
        // Growth is reserved first, so a refused one leaves the block as it was.
        let growth = new_size.saturating_sub(old);
        if growth > 0 && !self.budget.take(growth) {
            self.budget.exhaust();
            return std::ptr::null_mut();
        }
        // SAFETY: as above.
        let moved: *mut u8 = unsafe { libc::realloc(ptr.cast(), new_size.max(1)) }.cast();
        if moved.is_null() {
            self.budget.give_back(growth);
            return moved;
        }
        // SAFETY: `moved` was just returned by the C allocator.
        let new = unsafe { usable_size(moved) };
        // Settle the reservation against what the block really is now.
        let held = old + growth;
        if new > held {
            self.budget.add_rounding(new - held);
        } else {
            self.budget.give_back(held - new);
        }
        moved
    }

    unsafe fn usable_size(ptr: *mut u8) -> usize {
        // SAFETY: the caller passes a block this allocator handed out.
        unsafe { usable_size(ptr) }
    }
}

/// The usable size of a block from the C allocator.
///
/// # Safety
/// `ptr` must be a live block from `malloc`, `calloc` or `realloc`.
#[cfg(target_os = "macos")]
unsafe fn usable_size(ptr: *mut u8) -> usize {
    // SAFETY: the caller's promise.
    unsafe { libc::malloc_size(ptr.cast()) }
}

/// The usable size of a block from the C allocator.
///
/// # Safety
/// `ptr` must be a live block from `malloc`, `calloc` or `realloc`.
#[cfg(not(target_os = "macos"))]
unsafe fn usable_size(ptr: *mut u8) -> usize {
    // SAFETY: the caller's promise.
    unsafe { libc::malloc_usable_size(ptr.cast()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocations_are_counted_and_refused_past_the_limit() {
        let budget = Budget::new(1 << 20);
        let mut allocator = VatAllocator::new(Arc::clone(&budget));
        let a = allocator.alloc(600 << 10);
        assert!(!a.is_null());
        assert!(budget.used() >= 600 << 10);
        assert!(!budget.take_exhausted());
        assert!(allocator.alloc(600 << 10).is_null(), "past the limit");
        assert!(budget.take_exhausted(), "and the refusal is recorded");
        // SAFETY: `a` came from this allocator.
        let a = unsafe { allocator.realloc(a, 100) };
        assert!(!a.is_null());
        let b = allocator.alloc(600 << 10);
        assert!(!b.is_null(), "shrinking gave memory back");
        // SAFETY: both came from this allocator.
        unsafe {
            allocator.dealloc(a);
            allocator.dealloc(b);
        }
        assert_eq!(budget.used(), 0);
    }

    #[test]
    fn host_charges_share_the_budget_and_are_given_back() {
        let budget = Budget::new(1 << 20);
        let charge = budget.charge(900 << 10).unwrap();
        let mut allocator = VatAllocator::new(Arc::clone(&budget));
        assert!(budget.charge(200 << 10).is_none());
        assert!(!budget.take_exhausted(), "a refused charge is not fatal");
        assert!(allocator.alloc(200 << 10).is_null());
        assert!(budget.take_exhausted(), "a heap that cannot grow is");
        drop(charge);
        assert_eq!(budget.used(), 0);
    }
}
